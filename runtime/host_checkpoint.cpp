// runtime/host_checkpoint.cpp: checkpoints of a host with its input and output files.
#include "runtime/host_checkpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/checkpoint.h"
#include "stdlib/hash.h"

namespace cdr::runtime {

namespace {

// How many bytes before the input offset a checkpoint identifies the input by.
constexpr uint64_t kTail = 4096;

bool IsRegular(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// Reads exactly `n` bytes at the current position (or at `at` with pread when at >= 0).
bool ReadExactly(int fd, char* to, size_t n, int64_t at = -1) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = at >= 0 ? ::pread(fd, to + done, n - done, static_cast<off_t>(at + static_cast<int64_t>(done)))
                          : ::read(fd, to + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

std::unique_ptr<HostCheckpoints> HostCheckpoints::Open(const Options& options, std::string identity, std::string& error) {
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = "cannot create checkpoint directory " + options.dir + ": " + std::strerror(errno);
    return nullptr;
  }
  auto loaded = ReadCheckpoint(options.dir, identity, error);
  if (!loaded) return nullptr;
  std::unique_ptr<HostCheckpoints> c(new HostCheckpoints(options, std::move(identity)));
  if (!loaded->present) return c;
  c->loaded_ = std::move(loaded);
  CheckpointReader in(c->loaded_->body);
  c->present_ = true;
  c->finished_ = in.Bool();
  for (uint64_t i = 0, n = in.Count(24); i < n; ++i) {
    Output o;
    o.flag = in.Text();
    o.size = in.U64();
    o.lines = in.U64();
    c->outputs_.push_back(std::move(o));
  }
  c->file_offset_ = in.U64();
  c->tail_size_ = in.U64();
  c->tail_hash_ = in.Text();
  c->host_state_ = in.Rest();  // the host's state is the rest of the body
  if (in.failed() || c->tail_size_ > c->file_offset_) {
    error = "checkpoint " + CheckpointPath(options.dir) + " refused: malformed";
    return nullptr;
  }
  return c;
}

bool HostCheckpoints::PrepareOutputs(OutputFiles& files, std::string& error) {
  if (!present_) {
    for (auto& [_, f] : files) {
      if (!f->Truncate(error)) return false;
    }
    return true;
  }
  for (auto& [flag, f] : files) {
    const Output* recorded = nullptr;
    for (const auto& o : outputs_) {
      if (o.flag == flag) recorded = &o;
    }
    if (!recorded) {  // the identity names the outputs, so this cannot happen but by a bug
      error = "the checkpoint has no record of " + flag;
      return false;
    }
    if (!f->ResumeAt(recorded->size, recorded->lines, error)) return false;
  }
  return true;
}

bool HostCheckpoints::Resume(FileHost& host, int in_fd, std::string& error) {
  CheckpointReader in(host_state_);
  if (!host.Restore(in)) {
    error = "checkpoint " + CheckpointPath(options_.dir) + " refused: its state does not fit these rules";
    return false;
  }
  host_state_ = {};
  loaded_.reset();  // the file read, as large as the state: no longer needed
  last_lines_ = host.lines_read();
  const uint64_t offset = file_offset_;
  const uint64_t tail_at = offset - tail_size_;
  std::string tail(tail_size_, '\0');
  bool have_tail;
  if (IsRegular(in_fd)) {
    struct stat st {};
    ::fstat(in_fd, &st);
    if (static_cast<uint64_t>(st.st_size) < offset) {
      error = "the input has " + std::to_string(st.st_size) + " bytes, fewer than the " + std::to_string(offset) +
              " the checkpoint had read: it is not the input the checkpoint was taken on";
      return false;
    }
    have_tail = ReadExactly(in_fd, tail.data(), tail.size(), static_cast<int64_t>(tail_at));
    if (::lseek(in_fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      error = std::string("cannot seek the input: ") + std::strerror(errno);
      return false;
    }
  } else {
    // A pipe: the bytes before the offset are read and dropped.
    char buf[1 << 16];
    uint64_t skip = tail_at;
    bool ok = true;
    while (ok && skip > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip, sizeof buf));
      ok = ReadExactly(in_fd, buf, n);
      skip -= n;
    }
    have_tail = ok && ReadExactly(in_fd, tail.data(), tail.size());
    if (!ok) {
      error = "the input ended before the " + std::to_string(offset) + " bytes the checkpoint had read";
      return false;
    }
  }
  if (tail_size_ > 0 && (!have_tail || stdlib::Sha256Hex(tail) != tail_hash_)) {
    error = "the input's bytes before offset " + std::to_string(offset) +
            " differ from those the checkpoint read: it is not the input the checkpoint was taken on";
    return false;
  }
  return true;
}

bool HostCheckpoints::Save(const FileHost& host, OutputFiles& files, int in_fd, bool finished, std::string& error,
                           int64_t file_offset) {
  // What the checkpoint records must be on disk before it: a checkpoint that outlives
  // its outputs (a power loss) would make the restart skip alerts.
  for (auto& [flag, f] : files) {
    if (!f->Flush() || !f->Sync()) {
      error = f->ErrorText();
      return false;
    }
  }
  // The bytes before the offset identify the input (a regular file; a pipe's are gone).
  const uint64_t offset = file_offset >= 0 ? static_cast<uint64_t>(file_offset) : host.input_offset();
  std::string tail(std::min(offset, kTail), '\0');
  if (!IsRegular(in_fd)) {
    tail.clear();
  } else if (!ReadExactly(in_fd, tail.data(), tail.size(), static_cast<int64_t>(offset - tail.size()))) {
    error = std::string("cannot read the input back for the checkpoint: ") + std::strerror(errno);
    return false;
  }
  CheckpointFileWriter file;
  if (!file.Open(options_.dir, identity_, error)) return false;
  CheckpointWriter& out = file.body();
  out.Bool(finished);
  out.U64(files.size());
  for (auto& [flag, f] : files) {
    out.Text(flag);
    out.U64(f->size());
    out.U64(f->lines());
  }
  out.U64(offset);
  out.U64(tail.size());
  out.Text(stdlib::Sha256Hex(tail));
  host.Save(out);  // the rest of the body
  if (!file.Commit(error)) return false;
  last_lines_ = host.lines_read();
  last_time_ = std::chrono::steady_clock::now();
  ++written_;
  return true;
}

}  // namespace cdr::runtime
