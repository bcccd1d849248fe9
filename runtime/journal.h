// runtime/journal.h: the journal of a receiving source (MLLP, the FHIR HTTP endpoint):
// each message appended and fsync'd before it is acknowledged; the pipeline follows the
// file up to what is committed (FollowFile::SetLimit), so it never reads a message that
// was not stored whole. Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace cdr::runtime {

class Journal {
 public:
  ~Journal();
  /// Opens (creates, 0600) `path` for appending. False, with the reason.
  bool Open(const std::string& path, std::string& error);
  /// Appends `entry` and waits until it is on disk (fdatasync). False, with the reason,
  /// when it cannot be: then the journal is cut back to its length before (nothing
  /// half-written runs into the next entry). A journal renamed away (rotated by an
  /// operator) is followed by a new one at its path.
  bool Append(std::string_view entry, std::string& error);
  const std::string& path() const { return path_; }
  /// For the file (dev, ino): the bytes committed (written and on disk) when it is the
  /// journal's current file; nothing for another (a rotated journal: complete).
  std::optional<uint64_t> Committed(dev_t dev, ino_t ino) const;
  /// Readable after each commit (a pipe): a follower waits on it.
  int wake_fd() const { return wake_[0]; }

 private:
  mutable std::mutex mu_;
  std::string path_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t committed_ = 0;
  int wake_[2] = {-1, -1};
};

}  // namespace cdr::runtime
