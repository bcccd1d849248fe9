// runtime/checkpoint.h: the checkpoint file: a host's whole state at one point of its
// input, so that a restarted process continues exactly where the checkpoint was taken.
//
// Format (docs/operations.md, "Checkpoint format"): the 8 bytes "CDRCKPT\n", the format
// version (u32), the identity of what wrote it (a length-prefixed text: the rule set's and
// the options' SHA-256, so a checkpoint of other rules or options is refused), the body
// (up to the checksum), and the SHA-256 of everything before it (64 hex digits). Integers are
// little-endian, texts and byte strings are prefixed by their u64 length. The body is
// written by the host's parts in order (the host's counters and input position, the
// stream clock, the engine); each part reads back exactly what it wrote.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stdlib/hash.h"

namespace cdr::runtime {

// 2: fired alerts kept as records (runtime/sink.h AlertBody), not as JSON text.
// 3: withdrawn versions kept as a patient's last list (events no rule reads), not by id.
inline constexpr uint32_t kCheckpointVersion = 3;

/// Appends values to a checkpoint's body: in memory, or, given a drain, handed to it in
/// blocks of a few megabytes as they fill (a checkpoint file is written as it is made,
/// never held whole).
class CheckpointWriter {
 public:
  void U8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    Check();
  }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I64(int64_t v) { Raw(&v, 8); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void Text(std::string_view s) {
    U64(s.size());
    Raw(s.data(), s.size());
  }
  /// Bytes as they are, without their length (the last part of a body).
  void Bytes(std::string_view s) { Raw(s.data(), s.size()); }
  /// Where full blocks go; false from it marks the writer failed (the rest is dropped).
  void SetDrain(std::function<bool(std::string_view)> drain) {
    drain_ = std::move(drain);
    out_.reserve(kBlock + kBlock / 4);
  }
  /// Hands what is buffered to the drain.
  bool Drain() {
    if (drain_ && !out_.empty()) {
      if (!failed_ && !drain_(out_)) failed_ = true;
      out_.clear();
    }
    return !failed_;
  }
  bool failed() const { return failed_; }
  /// The bytes written (without a drain).
  const std::string& bytes() const { return out_; }

 private:
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the checkpoint format is little-endian");
  static constexpr size_t kBlock = 4 << 20;
  void Raw(const void* p, size_t n) {
    out_.append(static_cast<const char*>(p), n);
    Check();
  }
  void Check() {
    if (out_.size() >= kBlock && drain_) Drain();
  }
  std::string out_;
  std::function<bool(std::string_view)> drain_;
  bool failed_ = false;
};

/// Reads a checkpoint's body back. A read past the end (a body that does not match its
/// reader) sets failed() and yields zeros; the reader checks failed() once at the end.
class CheckpointReader {
 public:
  explicit CheckpointReader(std::string_view in) : in_(in) {}
  uint8_t U8() { return Get<uint8_t>(); }
  uint32_t U32() { return Get<uint32_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  bool Bool() { return U8() != 0; }
  std::string_view Text() {
    uint64_t n = U64();
    if (failed_ || n > in_.size() - at_) {
      failed_ = true;
      return {};
    }
    std::string_view s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  /// A count of items that each take at least `min_bytes`: more than the rest of the body
  /// could hold fails (so a bad count cannot make a reader allocate without bound).
  uint64_t Count(size_t min_bytes = 1) {
    uint64_t n = U64();
    if (n > (in_.size() - at_) / (min_bytes ? min_bytes : 1)) failed_ = true;
    return failed_ ? 0 : n;
  }
  void Fail() { failed_ = true; }
  bool failed() const { return failed_; }
  bool done() const { return at_ == in_.size(); }
  /// Everything not read yet (the last part of a body).
  std::string_view Rest() {
    std::string_view rest = in_.substr(at_);
    at_ = in_.size();
    return rest;
  }

 private:
  template <typename T>
  T Get() {
    T v = 0;
    Raw(&v, sizeof v);
    return v;
  }
  void Raw(void* p, size_t n) {
    if (failed_ || n > in_.size() - at_) {
      failed_ = true;
      return;
    }
    std::memcpy(p, in_.data() + at_, n);
    at_ += n;
  }
  std::string_view in_;
  size_t at_ = 0;
  bool failed_ = false;
};

/// The file of a checkpoint directory.
std::string CheckpointPath(const std::string& dir);

/// A checkpoint file being written, atomically: a temporary file in the directory,
/// written as the body is made (body()), then on Commit the checksum, fsync(2), rename(2)
/// over the previous checkpoint, and fsync of the directory. After a crash at any instant
/// the directory holds the previous checkpoint or this one. A writer not committed
/// removes its temporary file.
class CheckpointFileWriter {
 public:
  ~CheckpointFileWriter();
  /// Creates the temporary file and writes the head. False, with the reason, when it cannot.
  bool Open(const std::string& dir, const std::string& identity, std::string& error);
  CheckpointWriter& body() { return body_; }
  /// False, with the reason (naming the file), when any step fails; the previous
  /// checkpoint is then kept.
  bool Commit(std::string& error);

 private:
  bool Write(std::string_view data);
  std::string dir_, tmp_;
  int fd_ = -1;
  int errno_ = 0;
  std::unique_ptr<stdlib::Sha256> sum_;
  CheckpointWriter body_;
};

/// Writes `body` as the checkpoint of `dir` (CheckpointFileWriter).
bool WriteCheckpoint(const std::string& dir, const std::string& identity, std::string_view body, std::string& error);

/// What a checkpoint directory holds.
struct LoadedCheckpoint {
  bool present = false;  // false: no checkpoint (a first start)
  std::string file;      // the whole file
  std::string_view body;  // into `file`
};

/// Reads the checkpoint of `dir`. Refused, with a reason that says what to do: a file that
/// is not a checkpoint, of another format version, corrupt (its checksum), or written for
/// another `identity` (other rules or options).
std::unique_ptr<LoadedCheckpoint> ReadCheckpoint(const std::string& dir, const std::string& identity, std::string& error);

}  // namespace cdr::runtime
