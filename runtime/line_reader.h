// runtime/line_reader.h: splits an input into lines without copying them one by one.
// Reads large blocks into one buffer with simdjson's padding after it, so that every
// line handed out can be parsed in place (simdjson reads, but does not interpret, up to
// SIMDJSON_PADDING bytes past the end of its input). A line longer than the buffer is
// not held whole: its first bytes are kept (for the dead-letter output) and its length
// is counted, so no input line, however long, costs more than the buffer.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

namespace cdr::runtime {

/// Bytes readable after every line handed out (simdjson::SIMDJSON_PADDING or more).
inline constexpr size_t kLinePadding = 64;

/// Reads up to `n` bytes into `to`; returns how many, 0 at the end of the input, -1 on a
/// read error (with errno set), kReadStopped when asked to stop (a signal: the input has
/// not ended, the reader stops where it is). May return fewer than asked (a pipe delivers
/// what it has), so lines are handed out as soon as they arrive.
using ReadFn = std::function<long(char* to, size_t n)>;
inline constexpr long kReadStopped = -2;
/// Returned by a source that has had nothing to read for a while (a quiet live feed):
/// the reader returns no line but the input goes on (LineReader::idle()).
inline constexpr long kReadIdle = -3;

/// A source reading from a stream (bulk reads; for files and in-memory streams).
ReadFn StreamSource(std::istream& in);
/// A source reading from a file descriptor with read(2) (stdin, pipes, files).
/// `stop`, when given, stops the reading as soon as it is set (by a signal handler: a read
/// waiting on a quiet feed returns EINTR when the handler is installed without SA_RESTART).
/// `idle_ms` > 0: a wait of that long with nothing to read returns kReadIdle.
ReadFn FdSource(int fd, const volatile sig_atomic_t* stop = nullptr, int idle_ms = 0);

struct Line {
  std::string_view text;  // the line without its '\n'; only a prefix when `size` > text.size()
  size_t readable = 0;    // bytes readable from text.data() (>= text.size() + padding)
  uint64_t size = 0;      // the line's full length in bytes
};

class LineReader {
 public:
  /// `block` is the size of each read; lines longer than `block` are returned cut to
  /// `keep` bytes with their full `size`. With `cr_ends_lines`, a CR alone ends a line as
  /// well (HL7 v2 segments); a CRLF then ends one line (a CR last in what has been read
  /// waits for the next read, unless the input ends or goes quiet).
  LineReader(ReadFn read, size_t block = 4 << 20, size_t keep = 64 << 10, bool cr_ends_lines = false);
  /// The next line; false at the end of the input, when stopped, or when the source is
  /// idle (then idle() is true, and Next may be called again). A last line without '\n'
  /// counts.
  bool Next(Line& line);
  /// Whether the last Next returned no line because the source had nothing for a while.
  bool idle() const { return idle_; }
  /// Why the input ended early (a read error), or empty.
  const std::string& error() const { return error_; }
  /// Whether the reading was stopped (the source said kReadStopped) rather than ended. A
  /// line not yet ended when it stopped is not handed out.
  bool stopped() const { return stopped_; }
  /// Bytes of the input handed out so far as lines, their '\n' included: where a reader
  /// continuing after the last line handed out starts.
  uint64_t consumed() const { return consumed_; }
  /// Bytes read after the last line handed out (a line not yet ended).
  size_t unread() const { return end_ - begin_; }

 private:
  bool Fill();  // reads more after end_; false at the end of the input
  // The first line end in [from, from + n), or null; `length` is its size (CRLF: 2).
  const char* FindEnd(const char* from, size_t n, size_t& length) const;
  size_t Read(char* to, size_t n);  // 0 at the end or on an error (kept in error_)

  ReadFn read_;
  size_t block_, keep_;
  bool cr_ends_lines_;
  std::unique_ptr<char[]> buf_;  // block_ bytes + padding
  size_t begin_ = 0, end_ = 0;   // unread data
  bool eof_ = false;
  bool stopped_ = false;
  bool idle_ = false;
  uint64_t consumed_ = 0;
  std::string long_;  // the kept prefix of an overlong line
  std::string error_;
};

}  // namespace cdr::runtime
