// runtime/line_reader.cpp
#include "runtime/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cdr::runtime {

ReadFn StreamSource(std::istream& in) {
  return [&in](char* to, size_t n) -> long {
    return static_cast<long>(std::max<std::streamsize>(0, in.rdbuf()->sgetn(to, static_cast<std::streamsize>(n))));
  };
}

ReadFn FdSource(int fd, const volatile sig_atomic_t* stop, int idle_ms) {
  return [fd, stop, idle_ms](char* to, size_t n) -> long {
    for (;;) {
      if (stop && *stop) return kReadStopped;
      if (idle_ms > 0) {
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, idle_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) return kReadIdle;
      }
      ssize_t got = ::read(fd, to, n);
      if (got >= 0 || errno != EINTR) return static_cast<long>(got);
    }
  };
}

LineReader::LineReader(ReadFn read, size_t block, size_t keep, bool cr_ends_lines)
    : read_(std::move(read)), block_(block), keep_(keep), cr_ends_lines_(cr_ends_lines), buf_(new char[block + kLinePadding]) {
  std::memset(buf_.get() + block_, ' ', kLinePadding);  // defined bytes past the last line
}

size_t LineReader::Read(char* to, size_t n) {
  long got = read_(to, n);
  if (got == kReadIdle) {
    idle_ = true;
    return 0;
  }
  if (got == kReadStopped) {
    stopped_ = true;
    return 0;
  }
  if (got < 0) {
    error_ = std::strerror(errno);
    return 0;
  }
  return static_cast<size_t>(got);
}

bool LineReader::Fill() {
  if (eof_ || idle_) return false;
  if (begin_ > 0) {  // move the partial line to the front
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == block_) return true;  // full: the caller handles the overlong line
  size_t got = Read(buf_.get() + end_, block_ - end_);
  if (got == 0) {
    eof_ = !idle_;  // an idle source goes on
    return false;
  }
  end_ += got;
  return true;
}

const char* LineReader::FindEnd(const char* from, size_t n, size_t& length) const {
  length = 1;
  if (!cr_ends_lines_) return static_cast<const char*>(std::memchr(from, '\n', n));
  // Either byte, in one pass: a memchr for each would scan the rest of the buffer for the
  // one a file never holds (a LF in a CR-only file), at every line.
  const char* end = from + n;
  for (const char* p = from; p < end; ++p) {
    if (*p == '\n') return p;
    if (*p == '\r') {
      length = p + 1 < end && p[1] == '\n' ? 2 : 1;
      return p;
    }
  }
  return nullptr;
}

bool LineReader::Next(Line& line) {
  idle_ = false;
  size_t scanned = begin_;  // no line end in [begin_, scanned)
  for (;;) {
    size_t length = 1;
    size_t rescan = end_ - begin_;  // after more is read: where to look again, from begin_
    if (const char* nl = FindEnd(buf_.get() + scanned, end_ - scanned, length)) {
      size_t at = static_cast<size_t>(nl - buf_.get());
      // A CR last in the data read so far: its LF may come with the next read (one CRLF,
      // not a line and an empty one). Read on, unless the input has ended.
      if (!(length == 1 && *nl == '\r' && at + 1 == end_ && !eof_)) {
        line.text = std::string_view(buf_.get() + begin_, at - begin_);
        line.readable = block_ + kLinePadding - begin_;
        line.size = line.text.size();
        begin_ = at + length;
        consumed_ += line.size + length;
        return true;
      }
      rescan = at - begin_;
    }
    size_t pending = end_ - begin_;
    if (pending == block_) break;  // a line longer than the buffer
    if (!Fill()) {
      if (begin_ == end_ || stopped_) return false;
      // The source ended or went quiet after a line's CR: the CR ended it.
      const bool cr_last = cr_ends_lines_ && buf_[end_ - 1] == '\r';
      if (idle_ && !cr_last) return false;
      line.text = std::string_view(buf_.get() + begin_, end_ - begin_ - (cr_last ? 1 : 0));  // last line, no '\n'
      line.readable = block_ + kLinePadding - begin_;
      line.size = line.text.size();
      begin_ = end_;
      consumed_ += line.size + (cr_last ? 1 : 0);
      return true;
    }
    scanned = begin_ + rescan;
  }
  // Overlong: keep its first bytes, count the rest up to the next '\n' (or the end).
  long_.assign(buf_.get() + begin_, std::min(keep_, block_));
  uint64_t size = block_;
  begin_ = end_ = 0;
  bool ended = false;  // by its line end
  size_t end_length = 0;
  for (;;) {
    size_t got = eof_ ? 0 : Read(buf_.get(), block_);
    if (got == 0 && idle_) {  // the rest of the line has not come yet: wait on
      idle_ = false;
      continue;
    }
    if (got == 0) {
      eof_ = true;
      break;
    }
    size_t length = 1;
    if (const char* nl = FindEnd(buf_.get(), got, length)) {
      size_t at = static_cast<size_t>(nl - buf_.get());
      size += at;
      begin_ = at + length;
      end_ = got;
      ended = true;
      end_length = length;
      break;
    }
    size += got;
  }
  // Stopped inside it: the line has not ended, and is not handed out (its bytes are not
  // consumed; a reader continuing from consumed() reads it whole).
  if (stopped_ && !ended) return false;
  consumed_ += size + end_length;
  line.text = long_;
  line.readable = long_.size();
  line.size = size;
  return true;
}

}  // namespace cdr::runtime
