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
  f->regular_ = S_ISREG(st.st_mode);
  return f;
}

bool OutputFile::Truncate(std::string& error) {
  if (!regular_) return true;  // devices and pipes (/dev/null, a FIFO) have nothing to empty
  if (::ftruncate(fd_, 0) != 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool OutputFile::ResumeAt(uint64_t size, uint64_t lines, std::string& error) {
  if (!regular_) return true;  // a pipe or a device keeps nothing to cut back
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) < size) {
    error = path_ + " has " + std::to_string(st.st_size) + " bytes, fewer than the " + std::to_string(size) +
            " the checkpoint recorded: it was changed or lost since the checkpoint. Restore it, or remove the "
            "checkpoint to start from the beginning";
    return false;
  }
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0 || ::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) {
    error = "cannot write " + path_ + ": " + std::strerror(errno);
    return false;
  }
  committed_ = static_cast<off_t>(size);
  lines_ = lines;
  return true;
}

bool OutputFile::Sync() {
  // A pipe or a device (/dev/null) has nothing to sync; nor has a file system that
  // refuses fsync (EINVAL, EROFS).
  if (!regular_ || errno_ != 0) return errno_ == 0;
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    errno_ = errno;
    return false;
  }
  return true;
}

void OutputFile::RemoveIfCreated() {
  if (created_) ::unlink(path_.c_str());
  created_ = false;
}

bool OutputFile::WriteAll(const char* p, size_t n) {
  size_t done = 0;
  while (done < n && errno_ == 0) {
    ssize_t w = ::write(fd_, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) errno_ = w < 0 ? errno : EIO;
    if (w > 0) done += static_cast<size_t>(w);
  }
  if (errno_ != 0) {
    // Part of the chunk may be on the file: cut it back to the last whole line (a regular
    // file; a pipe keeps what it took).
    if (regular_ && ::ftruncate(fd_, committed_) == 0) ::lseek(fd_, committed_, SEEK_SET);
    return false;
  }
  committed_ += static_cast<off_t>(n);
  for (size_t i = 0; i < n; ++i) lines_ += p[i] == '\n';
  return true;
}

bool OutputFile::Flush() {
  if (errno_ != 0) return false;
  char* begin = pbase();
  char* end = pptr();
  char* last = end;  // one past the last newline
  while (last > begin && last[-1] != '\n') --last;
  if (last == begin) return true;  // nothing whole to write
  bool ok = WriteAll(begin, static_cast<size_t>(last - begin));
  size_t tail = static_cast<size_t>(end - last);
  std::memmove(buf_.data(), last, tail);
  setp(buf_.data(), buf_.data() + buf_.size());
  pbump(static_cast<int>(tail));
  return ok && (!sync_ || Sync());
}

bool OutputFile::Reserve(size_t n) {
  if (static_cast<size_t>(epptr() - pptr()) >= n) return true;
  if (!Flush()) return false;
  size_t used = static_cast<size_t>(pptr() - pbase());
  if (buf_.size() - used < n) {  // a line longer than the buffer: it grows, the line stays whole
    buf_.resize(used + n + buf_.size());
    setp(buf_.data(), buf_.data() + buf_.size());
    pbump(static_cast<int>(used));
  }
  return true;
}

int OutputFile::overflow(int c) {
  if (c == traits_type::eof()) return Flush() ? 0 : traits_type::eof();
  if (!Reserve(1)) return traits_type::eof();
  *pptr() = static_cast<char>(c);
  pbump(1);
  return c;
}

std::streamsize OutputFile::xsputn(const char* s, std::streamsize n) {
  if (errno_ || !Reserve(static_cast<size_t>(n))) return 0;
  std::memcpy(pptr(), s, static_cast<size_t>(n));
  pbump(static_cast<int>(n));
  return n;
}

int OutputFile::sync() { return Flush() ? 0 : -1; }

std::string OutputFile::ErrorText() const {
  return "cannot write " + path_ + ": " + std::strerror(errno_ ? errno_ : EIO);
}

SameFile FindSameFile(int input_fd, const std::string& input_name, const OutputFiles& outputs) {
  struct stat in {};
  bool input_is_file = ::fstat(input_fd, &in) == 0 && S_ISREG(in.st_mode);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputFile* a = outputs[i].second.get();
    if (!a->regular()) continue;  // /dev/null, a FIFO: writing it twice destroys nothing
    if (input_is_file && a->device() == in.st_dev && a->inode() == in.st_ino) {
      return SameFile{outputs[i].first, input_name, a->path()};
    }
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      const OutputFile* b = outputs[j].second.get();
      if (a->device() == b->device() && a->inode() == b->inode()) return SameFile{outputs[i].first, outputs[j].first, a->path()};
    }
  }
  return {};
}

}  // namespace cdr::runtime
