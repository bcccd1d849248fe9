// runtime/checkpoint.cpp: the checkpoint file's framing, written atomically.
#include "runtime/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stdlib/hash.h"

namespace cdr::runtime {

namespace {

constexpr std::string_view kMagic = "CDRCKPT\n";
constexpr size_t kChecksum = 64;  // hex SHA-256

std::string Reason(const std::string& path) { return path + ": " + std::strerror(errno); }

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The first line where two identities differ, for the refusal.
std::string FirstDifference(std::string_view was, std::string_view now) {
  auto line = [](std::string_view s, size_t& at) {
    size_t nl = s.find('\n', at);
    std::string_view l = s.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? s.size() : nl + 1;
    return l;
  };
  size_t a = 0, b = 0;
  while (a < was.size() || b < now.size()) {
    std::string_view x = line(was, a), y = line(now, b);
    if (x != y) return "it has " + std::string(x) + "; this run has " + std::string(y);
  }
  return "";
}

}  // namespace

std::string CheckpointPath(const std::string& dir) { return dir + "/checkpoint"; }

CheckpointFileWriter::~CheckpointFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

bool CheckpointFileWriter::Write(std::string_view data) {
  sum_->Update(data);
  if (!WriteAll(fd_, data.data(), data.size())) {
    errno_ = errno;
    return false;
  }
  return true;
}

bool CheckpointFileWriter::Open(const std::string& dir, const std::string& identity, std::string& error) {
  dir_ = dir;
  tmp_ = CheckpointPath(dir) + ".tmp";
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error = "cannot write checkpoint " + Reason(tmp_);
    return false;
  }
  sum_ = std::make_unique<stdlib::Sha256>();
  CheckpointWriter head;
  head.U32(kCheckpointVersion);
  head.Text(identity);
  if (!Write(kMagic) || !Write(head.bytes())) {
    error = "cannot write checkpoint " + tmp_ + ": " + std::strerror(errno_);
    return false;
  }
  body_.SetDrain([this](std::string_view block) { return Write(block); });
  return true;
}

bool CheckpointFileWriter::Commit(std::string& error) {
  const std::string path = CheckpointPath(dir_);
  if (!body_.Drain() || !WriteAll(fd_, sum_->HexDigest().data(), kChecksum) || ::fsync(fd_) != 0) {
    if (errno_ == 0) errno_ = errno;
    error = "cannot write checkpoint " + tmp_ + ": " + std::strerror(errno_);
    return false;  // the destructor removes the temporary file
  }
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path.c_str()) != 0) {
    error = "cannot write checkpoint " + Reason(path);
    ::unlink(tmp_.c_str());
    return false;
  }
  // The rename itself is durable only once the directory is.
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    error = "cannot write checkpoint " + Reason(dir_);
    if (dfd >= 0) ::close(dfd);
    return false;
  }
  ::close(dfd);
  return true;
}

bool WriteCheckpoint(const std::string& dir, const std::string& identity, std::string_view body, std::string& error) {
  CheckpointFileWriter file;
  if (!file.Open(dir, identity, error)) return false;
  file.body().Bytes(body);
  return file.Commit(error);
}

std::unique_ptr<LoadedCheckpoint> ReadCheckpoint(const std::string& dir, const std::string& identity, std::string& error) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = "checkpoint directory " + dir + (::stat(dir.c_str(), &st) != 0 ? ": " + std::string(std::strerror(errno))
                                                                            : ": not a directory");
    return nullptr;
  }
  const std::string path = CheckpointPath(dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::make_unique<LoadedCheckpoint>();
    error = "cannot read checkpoint " + Reason(path);
    return nullptr;
  }
  auto loaded = std::make_unique<LoadedCheckpoint>();
  std::string& file = loaded->file;
  struct stat fst {};
  if (::fstat(fd, &fst) == 0) file.reserve(static_cast<size_t>(fst.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      error = "cannot read checkpoint " + Reason(path);
      ::close(fd);
      return nullptr;
    }
    if (got == 0) break;
    file.append(buf, static_cast<size_t>(got));
  }
  ::close(fd);
  const std::string refuse = "checkpoint " + path + " refused: ";
  if (file.compare(0, kMagic.size(), kMagic) != 0) {
    error = refuse + "not a cdr checkpoint";
    return nullptr;
  }
  if (file.size() < kMagic.size() + 4 + kChecksum ||
      stdlib::Sha256Hex(std::string_view(file).substr(0, file.size() - kChecksum)) !=
          std::string_view(file).substr(file.size() - kChecksum)) {
    error = refuse + "corrupt (its checksum does not match its content); remove it to start from the beginning";
    return nullptr;
  }
  CheckpointReader in(std::string_view(file).substr(kMagic.size(), file.size() - kMagic.size() - kChecksum));
  uint32_t version = in.U32();
  if (version != kCheckpointVersion) {
    error = refuse + "format version " + std::to_string(version) + ", this cdr reads version " +
            std::to_string(kCheckpointVersion);
    return nullptr;
  }
  std::string_view was = in.Text();
  if (!in.failed() && was != identity) {
    error = refuse + "written for other rules or options: " + FirstDifference(was, identity) +
            ". Run with the checkpoint's rules and options, or remove it to start from the beginning";
    return nullptr;
  }
  loaded->present = true;
  loaded->body = in.Rest();
  if (in.failed()) {
    error = refuse + "malformed";
    return nullptr;
  }
  return loaded;
}

}  // namespace cdr::runtime
