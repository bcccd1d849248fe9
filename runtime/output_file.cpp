// runtime/output_file.cpp: output files written with write(2), errors kept.
#include "runtime/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cdr::runtime {

namespace {
constexpr size_t kBuffer = 64 * 1024;
}

OutputFile::OutputFile(std::string path, int fd, bool created)
    : path_(std::move(path)), fd_(fd), created_(created), buf_(kBuffer), stream_(this) {
  setp(buf_.data(), buf_.data() + buf_.size());
}

OutputFile::~OutputFile() {
  Flush();
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<OutputFile> OutputFile::Open(const std::string& path, mode_t mode, std::string& error) {
  // O_EXCL first, to know whether this run created the file (and may remove it).
  bool created = true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  }
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "cannot write " + path + ": is a directory";
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<OutputFile> f(new OutputFile(path, fd, created));
  f->dev_ = st.st_dev;
  f->ino_ = st.st_ino;
  return f;
}

bool OutputFile::Truncate(std::string& error) {
  struct stat st {};
  // Devices and pipes (/dev/null, a FIFO) have nothing to empty.
  if (::fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode)) return true;
  if (::ftruncate(fd_, 0) != 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void OutputFile::RemoveIfCreated() {
  if (created_) ::unlink(path_.c_str());
  created_ = false;
}

bool OutputFile::WriteAll(const char* p, size_t n) {
  while (n > 0 && errno_ == 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      errno_ = w < 0 ? errno : EIO;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return errno_ == 0;
}

bool OutputFile::Flush() {
  size_t n = static_cast<size_t>(pptr() - pbase());
  bool ok = n == 0 || WriteAll(pbase(), n);
  setp(buf_.data(), buf_.data() + buf_.size());
  return ok && errno_ == 0;
}

int OutputFile::overflow(int c) {
  if (!Flush()) return traits_type::eof();
  if (c != traits_type::eof()) {
    *pptr() = static_cast<char>(c);
    pbump(1);
  }
  return c == traits_type::eof() ? 0 : c;
}

std::streamsize OutputFile::xsputn(const char* s, std::streamsize n) {
  if (errno_) return 0;
  size_t room = static_cast<size_t>(epptr() - pptr());
  if (static_cast<size_t>(n) <= room) {
    std::memcpy(pptr(), s, static_cast<size_t>(n));
    pbump(static_cast<int>(n));
    return n;
  }
  if (!Flush()) return 0;
  if (static_cast<size_t>(n) >= buf_.size()) return WriteAll(s, static_cast<size_t>(n)) ? n : 0;
  std::memcpy(pptr(), s, static_cast<size_t>(n));
  pbump(static_cast<int>(n));
  return n;
}

int OutputFile::sync() { return Flush() ? 0 : -1; }

std::string OutputFile::ErrorText() const {
  return "cannot write " + path_ + ": " + std::strerror(errno_ ? errno_ : EIO);
}

SameFile FindSameFile(int input_fd, const std::string& input_name,
                      const std::vector<std::pair<std::string, OutputFile*>>& outputs) {
  struct stat in {};
  bool input_is_file = ::fstat(input_fd, &in) == 0 && S_ISREG(in.st_mode);
  auto regular = [](const OutputFile* f) {
    struct stat st {};
    return ::stat(f->path().c_str(), &st) == 0 && S_ISREG(st.st_mode);
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputFile* a = outputs[i].second;
    if (!regular(a)) continue;  // /dev/null, a FIFO: writing it twice destroys nothing
    if (input_is_file && a->device() == in.st_dev && a->inode() == in.st_ino) {
      return SameFile{outputs[i].first, input_name, a->path()};
    }
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      const OutputFile* b = outputs[j].second;
      if (a->device() == b->device() && a->inode() == b->inode()) return SameFile{outputs[i].first, outputs[j].first, a->path()};
    }
  }
  return {};
}

}  // namespace cdr::runtime
