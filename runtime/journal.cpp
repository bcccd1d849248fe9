// runtime/journal.cpp: appended with fsync, cut back on a failed write, reopened when
// rotated.
#include "runtime/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cdr::runtime {

Journal::~Journal() {
  for (int fd : {fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

bool Journal::Open(const std::string& path, std::string& error) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0 || ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    error = "cannot open the journal " + path + ": " + std::strerror(errno);
    return false;
  }
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  committed_ = static_cast<uint64_t>(st.st_size);  // what it holds is from before: committed
  return true;
}

std::optional<uint64_t> Journal::Committed(dev_t dev, ino_t ino) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (dev != dev_ || ino != ino_) return std::nullopt;
  return committed_;
}

bool Journal::Append(std::string_view entry, std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  // Renamed away (rotated): a new journal at its path, which the pipeline follows next.
  struct stat at_path {}, open_file {};
  if (::stat(path_.c_str(), &at_path) != 0 || ::fstat(fd_, &open_file) != 0 || at_path.st_ino != open_file.st_ino ||
      at_path.st_dev != open_file.st_dev) {
    const int fresh = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    struct stat st {};
    if (fresh >= 0 && ::fstat(fresh, &st) == 0) {
      ::close(fd_);
      fd_ = fresh;
      dev_ = st.st_dev;
      ino_ = st.st_ino;
      committed_ = static_cast<uint64_t>(st.st_size);
    } else if (fresh >= 0) {
      ::close(fresh);
    }
  }
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  const size_t size = entry.size();
  bool stored = before >= 0;
  while (stored && !entry.empty()) {
    ssize_t n = ::write(fd_, entry.data(), entry.size());
    if (n < 0 && errno == EINTR) continue;
    stored = n > 0;
    if (stored) entry.remove_prefix(static_cast<size_t>(n));
  }
  if (stored && ::fdatasync(fd_) != 0) stored = false;
  if (!stored) {
    error = std::strerror(errno);
    if (before >= 0) (void)!::ftruncate(fd_, before);  // a write cut short (a full disk) is taken back
    return false;
  }
  committed_ = static_cast<uint64_t>(before) + size;
  (void)!::write(wake_[1], "c", 1);  // the follower reads on
  return true;
}

}  // namespace cdr::runtime
