// runtime/host_checkpoint.h: checkpoints of a FileHost with its input and output files:
// what makes a host killed at any instant and started again produce exactly the output
// of a run never interrupted (docs/operations.md, "Checkpoints").
//
// A checkpoint is taken between two input lines: every output is flushed and fsync'ed,
// then the host's state, the input offset and each output's size go to the checkpoint
// file, written atomically (runtime/checkpoint.h). On a restart, each output is cut back
// to its recorded size, the state is restored and the input continues from its offset:
// what was written after the checkpoint is written again, the same bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/file_host.h"
#include "runtime/output_file.h"

namespace cdr::runtime {

class HostCheckpoints {
 public:
  struct Options {
    std::string dir;
    uint64_t every_events = 0;  // a checkpoint after this many input lines (0: by time only)
    int64_t every_ms = 0;       // and/or after this much wall time (0: by events only)
  };
  /// Reads the checkpoint of `options.dir` (creating the directory, 0700, when absent).
  /// `identity` names what must not change across a restart (runtime/checkpoint.h).
  /// Null, with the reason, when the directory cannot be used or its checkpoint is refused.
  static std::unique_ptr<HostCheckpoints> Open(const Options& options, std::string identity, std::string& error);

  /// Whether a checkpoint was found (the run continues from it).
  bool present() const { return present_; }
  /// Whether it is the checkpoint of a run that read its input to the end.
  bool finished() const { return finished_; }

  /// Cuts every output back to the size the checkpoint recorded (or, with none, empties it).
  bool PrepareOutputs(OutputFiles& files, std::string& error);
  /// Restores the host's state and positions the input `in_fd` where it continues: seeks a
  /// regular file (checking that the bytes before the offset are those the checkpoint saw),
  /// or reads and discards the bytes before it from a pipe (a producer that replays its
  /// stream from the start gives exactly the input the checkpoint continues).
  bool Resume(FileHost& host, int in_fd, std::string& error);
  /// Where the input file continues (after Resume): the checkpoint's offset in it. A host
  /// offset minus (host.input_offset() - this) is an offset in that file.
  uint64_t file_offset() const { return file_offset_; }

  /// Whether a checkpoint is due after this line (`lines_read`: the host's count).
  bool Due(uint64_t lines_read) const {
    if (options_.every_events && lines_read - last_lines_ >= options_.every_events) return true;
    return options_.every_ms && std::chrono::steady_clock::now() - last_time_ >= std::chrono::milliseconds(options_.every_ms);
  }
  /// Flushes and syncs every output, then writes the checkpoint (`finished`: the host
  /// read its input to the end). `file_offset`: where the host's input stands in the file
  /// `in_fd` (a source that follows a file across rotation: in the current one; -1: the
  /// host's own offset, an input that is one file or stream). False, with the reason, when
  /// any step fails: the previous checkpoint is kept.
  bool Save(const FileHost& host, OutputFiles& files, int in_fd, bool finished, std::string& error,
            int64_t file_offset = -1);
  /// What the checkpoints written from now on are of (the rules after a reload).
  void SetIdentity(std::string identity) { identity_ = std::move(identity); }
  /// Checkpoints written by this process.
  uint64_t written() const { return written_; }
  const std::string& dir() const { return options_.dir; }

 private:
  HostCheckpoints(Options options, std::string identity) : options_(std::move(options)), identity_(std::move(identity)) {}
  Options options_;
  std::string identity_;
  bool present_ = false, finished_ = false;
  std::unique_ptr<LoadedCheckpoint> loaded_;
  std::string_view host_state_;  // the host's part of the loaded checkpoint (in loaded_)
  struct Output {
    std::string flag;
    uint64_t size = 0, lines = 0;
  };
  std::vector<Output> outputs_;  // as loaded
  std::string tail_hash_;        // SHA-256 of the input's bytes before the offset (up to kTail), or empty
  uint64_t tail_size_ = 0;
  uint64_t file_offset_ = 0;
  uint64_t last_lines_ = 0;
  std::chrono::steady_clock::time_point last_time_ = std::chrono::steady_clock::now();
  uint64_t written_ = 0;
};

}  // namespace cdr::runtime
