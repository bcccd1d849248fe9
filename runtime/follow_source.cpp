// runtime/follow_source.cpp: following a file across rotation (runtime/follow_source.h).
#include "runtime/follow_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace cdr::runtime {

namespace {

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The most a wait lasts before the path is looked at again (a change inotify missed: a
// directory it could not watch, a file system that does not report).
constexpr int kLookAgainMs = 250;

}  // namespace

std::unique_ptr<FollowFile> FollowFile::Open(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "cannot follow " + path + ": " + (fd < 0 ? std::strerror(errno) : "not a regular file");
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in >= 0 && ::inotify_add_watch(in, DirectoryOf(path).c_str(),
                                     IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE) < 0) {
    ::close(in);
    in = -1;  // looked at every kLookAgainMs instead
  }
  std::unique_ptr<FollowFile> f(new FollowFile(path, fd, in));
  f->dev_ = st.st_dev;
  f->ino_ = st.st_ino;
  return f;
}

FollowFile::FollowFile(std::string path, int fd, int inotify) : path_(std::move(path)), fd_(fd), inotify_(inotify) {}

FollowFile::~FollowFile() {
  if (fd_ >= 0) ::close(fd_);
  if (inotify_ >= 0) ::close(inotify_);
}

bool FollowFile::Wait(int ms) {
  pollfd p[2];
  nfds_t n = 0;
  for (int fd : {inotify_, wake_fd_}) {
    if (fd >= 0) p[n++] = pollfd{fd, POLLIN, 0};
  }
  int ready = ::poll(n ? p : nullptr, n, ms);
  if (ready > 0) {
    char buf[4096];
    for (nfds_t i = 0; i < n; ++i) {
      if (p[i].revents & POLLIN) {
        while (::read(p[i].fd, buf, sizeof buf) > 0) {
        }
      }
    }
  }
  return ready != 0;  // an interrupted wait (a signal) counts as woken: the caller looks at `stop`
}

bool FollowFile::Reopen() {
  struct stat now {};
  if (::stat(path_.c_str(), &now) != 0) return false;  // renamed away, the new one not there yet
  if (now.st_dev != dev_ || now.st_ino != ino_) {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd_);
    fd_ = fd;
    dev_ = now.st_dev;
    ino_ = now.st_ino;
    ++rotations_;
    need_newline_ = last_ != '\n' && delivered_ > 0;
    file_start_ = delivered_ + (need_newline_ ? 1 : 0);
    return true;
  }
  off_t at = ::lseek(fd_, 0, SEEK_CUR);
  if (at > 0 && now.st_size < at) {  // cut shorter than what was read: written again from its start
    ::lseek(fd_, 0, SEEK_SET);
    ++truncations_;
    need_newline_ = last_ != '\n';
    file_start_ = delivered_ + (need_newline_ ? 1 : 0);
    return true;
  }
  return false;
}

long FollowFile::Read(char* to, size_t n) {
  auto idle_since = std::chrono::steady_clock::now();
  for (;;) {
    if (stop_ && *stop_) return kReadStopped;
    if (need_newline_ && n > 0) {
      need_newline_ = false;
      to[0] = '\n';
      last_ = '\n';
      ++delivered_;
      return 1;
    }
    // A journal: no further than what its writer has committed.
    std::optional<uint64_t> limit = limit_ ? limit_(dev_, ino_) : std::nullopt;
    off_t at = limit ? ::lseek(fd_, 0, SEEK_CUR) : 0;
    const size_t want = limit ? (at >= 0 && static_cast<uint64_t>(at) < *limit ? std::min<uint64_t>(n, *limit - at) : 0) : n;
    ssize_t got = want ? ::read(fd_, to, want) : 0;
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got > 0) {
      delivered_ += static_cast<uint64_t>(got);
      last_ = to[got - 1];
      return got;
    }
    // The end of the current file: another file at the path, or a truncation? The old
    // file was just read to its end, so nothing written to it before the rename is lost.
    if (Reopen()) continue;
    int wait = kLookAgainMs;
    if (idle_ms_ > 0) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - idle_since);
      if (waited.count() >= idle_ms_) return kReadIdle;
      wait = std::min<int>(wait, idle_ms_ - static_cast<int>(waited.count()));
    }
    Wait(wait);
  }
}

}  // namespace cdr::runtime
