// runtime/output_file.h: an output file of a host (alerts, trace, dead letters, late
// events). Opened without truncation, so that every output of a run can be opened and
// checked (not the input, not each other) before any is emptied; created with a mode of
// the operator's choosing (0600 by default: outputs hold patient data); written with
// write(2) through a buffer in whole lines only (a kill at any instant leaves no torn
// line), the first error kept with its errno so it can be reported with the file's name;
// a write that fails part way is cut back to the last whole line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

namespace cdr::runtime {

class OutputFile : public std::streambuf {
 public:
  /// Opens `path` for writing, creating it with `mode` when absent; does not truncate.
  /// Null and the reason (with the path) when it cannot be opened.
  static std::unique_ptr<OutputFile> Open(const std::string& path, mode_t mode, std::string& error);
  ~OutputFile() override;

  /// Empties the file (after every output of the run is known to be usable).
  bool Truncate(std::string& error);
  /// Continues a run from a checkpoint: the file is cut back to `size` bytes holding
  /// `lines` lines (what the checkpoint recorded: what was written after it is written
  /// again). Refused when the file is shorter than that (it was changed or lost since).
  bool ResumeAt(uint64_t size, uint64_t lines, std::string& error);
  /// Bytes on the file, all whole lines (the buffered lines not included: Flush first).
  uint64_t size() const { return static_cast<uint64_t>(committed_); }
  /// fsync(2) now (a checkpoint: what it records must be on disk before it). Pipes and
  /// devices have nothing to sync.
  bool Sync();
  /// Writes the whole lines buffered, each flush one write(2) where it fits (and fsync(2)
  /// with SetSync); a line not yet ended stays buffered. False (and error() set) when a
  /// write fails: the file is then cut back to its last whole line.
  bool Flush();
  /// fsync(2) after every flush that wrote something.
  void SetSync(bool sync) { sync_ = sync; }
  /// Whole lines on the file (written and not cut back).
  uint64_t lines() const { return lines_; }
  /// Removes a file this run created (an output refused before any work).
  void RemoveIfCreated();

  std::ostream& stream() { return stream_; }
  const std::string& path() const { return path_; }
  dev_t device() const { return dev_; }
  ino_t inode() const { return ino_; }
  bool regular() const { return regular_; }
  /// errno of the first failed write, 0 when every write succeeded.
  int error() const { return errno_; }
  /// "cannot write PATH: REASON".
  std::string ErrorText() const;

 protected:
  int overflow(int c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  OutputFile(std::string path, int fd, bool created);
  bool WriteAll(const char* p, size_t n);
  // Makes room for `n` more bytes: writes the buffered whole lines, grows for a long line.
  bool Reserve(size_t n);

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool regular_ = false;  // a regular file (not /dev/null, a FIFO): it can be emptied and cut back
  int errno_ = 0;
  bool sync_ = false;
  uint64_t lines_ = 0;
  off_t committed_ = 0;  // bytes on the file that end with a whole line
  std::vector<char> buf_;
  std::ostream stream_;
};

/// A run's output files, each with the flag that named it.
using OutputFiles = std::vector<std::pair<std::string, std::unique_ptr<OutputFile>>>;

/// A file named twice where that would destroy data: an output that is the input, or two
/// outputs that are one file (compared by device and inode, so links and other spellings
/// count). Empty when there is none; else the two names and the path, for the message.
struct SameFile {
  std::string first, second, path;
};
SameFile FindSameFile(int input_fd, const std::string& input_name, const OutputFiles& outputs);

}  // namespace cdr::runtime
