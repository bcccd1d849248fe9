// runtime/follow_source.h: a source that follows a file as it grows, across rotation,
// like `tail -F` (cdr serve --source file:PATH).
//
// At the end of the file it waits (inotify on the file's directory, so new data is read
// as soon as it is written) and looks at the path: a new file there (the old one renamed
// away, by logrotate or a feed's own rotation) is opened and read from its start, once the
// old one is read to its end; a file cut shorter than what was read (copytruncate) is read
// again from its start. If the old file's last line had no '\n', one is supplied, so that
// it does not run into the new file's first line.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/line_reader.h"

namespace cdr::runtime {

class FollowFile {
 public:
  /// Opens `path` (which must exist). Null, with the reason, when it cannot be read.
  static std::unique_ptr<FollowFile> Open(const std::string& path, std::string& error);
  ~FollowFile();

  /// ReadFn semantics: blocks until there are bytes, returns kReadStopped once `stop` is
  /// set, and kReadIdle after `idle_ms` with nothing (0: waits on).
  long Read(char* to, size_t n);
  ReadFn AsReadFn() {
    return [this](char* to, size_t n) { return Read(to, n); };
  }
  void SetStop(const volatile sig_atomic_t* stop) { stop_ = stop; }
  /// Reads a file no further than `limit(dev, ino)` says (nothing: to its end), and wakes
  /// when `wake_fd` is readable: a journal whose writer says what is committed (on disk and
  /// acknowledged), so that bytes of a write it takes back are never read.
  void SetLimit(std::function<std::optional<uint64_t>(dev_t, ino_t)> limit, int wake_fd) {
    limit_ = std::move(limit);
    wake_fd_ = wake_fd;
  }
  void SetIdleMs(int idle_ms) { idle_ms_ = idle_ms; }

  /// The file being read now (for a checkpoint: its offset and its bytes).
  int fd() const { return fd_; }
  /// Bytes handed out before the current file began (older files, supplied '\n's).
  uint64_t file_start() const { return file_start_; }
  uint64_t rotations() const { return rotations_; }
  uint64_t truncations() const { return truncations_; }
  const std::string& path() const { return path_; }

 private:
  FollowFile(std::string path, int fd, int inotify);
  /// Waits for a change near the file, up to `ms` (< 0: without end); false on timeout.
  bool Wait(int ms);
  /// At the end of the current file: switches to a new file at the path, or back to the
  /// start of a truncated one. True when it did (reading goes on at once).
  bool Reopen();

  std::string path_;
  int fd_ = -1;
  int inotify_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t delivered_ = 0, file_start_ = 0;
  char last_ = '\n';
  bool need_newline_ = false;
  uint64_t rotations_ = 0, truncations_ = 0;
  const volatile sig_atomic_t* stop_ = nullptr;
  int idle_ms_ = 0;
  std::function<std::optional<uint64_t>(dev_t, ino_t)> limit_;
  int wake_fd_ = -1;
};

}  // namespace cdr::runtime
