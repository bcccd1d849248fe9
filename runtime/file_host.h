// runtime/file_host.h: the embedded file/stdin host: NDJSON lines in; alerts, trace
// records, dead letters and late events out to a sink (runtime/sink.h). No server; one
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string_view>

#include "compiler/ir/ir.h"
#include "runtime/checkpoint.h"
#include "runtime/engine.h"
#include "runtime/input_format.h"
#include "runtime/line_reader.h"
#include "runtime/sink.h"

namespace cdr::runtime {

struct HostOutputs {
  /// Where alerts, trace records, dead letters and late events go (may be null).
  AlertSink* sink = nullptr;
  /// Called after each input line is processed (its alerts handed to the sink);
  /// false stops the intake at once (an output cannot be written).
  std::function<bool()> after_line;
  /// Called when the source has had nothing to read for a while (a quiet live feed);
  /// false stops the intake.
  std::function<bool()> on_idle;
  /// Called when a line has been read, before it is decoded (latency measurement).
  std::function<void()> on_line;
};

/// What a run did. read = used + dead_lettered + late.
struct HostStats {
  uint64_t read = 0;  // non-blank lines (events and refused parts, with a format)
  uint64_t records = 0;  // with a format: records read (messages, resources, Bundles)
  uint64_t skipped = 0;  // with a format: parts holding nothing to translate (an ADT message, a Patient)
  uint64_t used = 0;
  uint64_t dead_lettered = 0;
  uint64_t late = 0;
  uint64_t blank = 0;
  uint64_t patients = 0;
  uint64_t fired = 0;
  uint64_t retracted = 0;
  uint64_t superseded = 0;  // used events that were older versions of an id in force (changed nothing)
  uint64_t held = 0;         // events held by the stream clock (ahead of the stream time), at some point
  uint64_t quarantined = 0;  // of those, never corroborated: dead-lettered (included in dead_lettered)
  uint64_t implausible_kept = 0;  // values outside their plausible range, used (`plausible ... keep`)
  std::string read_error;  // the input ended on a read error (the run stopped there)
  bool stopped = false;    // after_line stopped the intake (the rest of the input was not read)
  bool paused = false;     // the source stopped (a signal) and Run left the state as it was (OnStop::Pause)
  bool interrupted = false;  // the source stopped (a signal) rather than ended
  uint64_t unread = 0;       // bytes after the last line when the source stopped (a line not yet ended)
  bool native = false;          // the rules ran as native code at the end
  uint64_t native_from_event = 0;  // events read before native code took over
};

/// The embedded host: reads lines, decodes them, guards the stream time, feeds the engine.
/// Its whole state can be saved between two lines and restored in a new process
/// (checkpoints: runtime/checkpoint.h), which then continues with the input from
/// input_offset() on.
class FileHost {
 public:
  FileHost(const ir::Module& module, const HostOutputs& out, const EngineOptions& options);
  ~FileHost();

  /// What Run does when its source stops (kReadStopped: a signal) rather than ends.
  enum class OnStop {
    Finish,  // as at the end of the input: the open points are decided (no checkpoint to continue from)
    Pause,   // nothing more: the state stays as it is, to be saved and continued
  };
  /// Streams every line of `in`. `progress`, when given, is called now and then with the
  /// stats so far. Returns when the input ends (all decided, the trace written), stops, or
  /// after_line says so (nothing more written).
  HostStats Run(const ReadFn& in, const std::function<void(const HostStats&)>& progress = {}, OnStop on_stop = OnStop::Finish);

  /// The steps Run is made of, for a host that reads its own source (a Kafka partition):
  /// processes one input line (`line_no` names it in refusals: its line number, or its
  /// offset), as Run does each line it reads. Blank lines are counted and skipped.
  /// `key`, when given, must be the event's patient id (a Kafka message's key: a
  /// patient's events must all be in one partition), else the line is dead-lettered.
  /// With a format (SetFormat), the line is one record of it (a Kafka message holds one).
  void Feed(const Line& line, uint64_t line_no, const std::optional<std::string_view>& key = std::nullopt);
  /// One record of the input format: its events fed, its refused parts dead-lettered.
  void FeedRecord(const Record& record, const std::optional<std::string_view>& key = std::nullopt);
  /// Text of the input that belongs to no record, dead-lettered.
  void Stray(const Record& text, const std::string& reason);
  /// The source is idle with the wall clock at `now_ms`: held events are released up to
  /// it, and timer points up to it evaluated (SetWallClock).
  void Idle(int64_t now_ms);
  /// End of input: every open point decided, the trace written.
  void Finish();
  /// What the host did so far.
  const HostStats& stats();

  /// Writes the host's state (between two lines: from after_line, or after Run returned
  /// paused or stopped by after_line): counters, input position, stream clock, engine.
  void Save(CheckpointWriter& out) const;
  /// Reads a state written by Save, before Run. False when it does not fit.
  bool Restore(CheckpointReader& in);
  /// Bytes of the input used so far, up to the end of the last line processed (the lines
  /// before a restore included): where the input continues after a restore.
  uint64_t input_offset() const;
  /// Non-blank lines read so far (a restore's included).
  uint64_t lines_read() const { return stats_.read; }
  /// Events dead-lettered so far (a restore's included).
  uint64_t dead_lettered() const { return stats_.dead_lettered; }
  /// With the wall clock, when the source is idle the stream time moves to the present
  /// (before on_idle is called): events held for being ahead are released up to it, and
  /// timer points up to it are evaluated, so absence rules fire on a quiet feed.
  void SetWallClock(bool wall_clock) { wall_clock_ = wall_clock; }
  /// Reads the input in `format` (null: NDJSON events), before Run or Feed.
  void SetFormat(std::unique_ptr<InputFormat> format);
  const Engine& engine() const;
  /// Whether Run ended the input (everything decided, as at its end).
  bool finished() const { return finished_; }

  /// Swaps in the rules of `module` (with their native code, or none: the interpreter)
  /// between two lines: Engine::Reload. False, with the reason, when the state cannot be
  /// carried over; the running rules go on.
  bool Reload(const ir::Module& module, std::vector<std::vector<NativeBlock>> native, std::string& error);

  /// The engine's state is never freed (for a process that exits right after: freeing
  /// 100,000 patients one object at a time takes seconds).
  void KeepState();

 private:
  struct Impl;
  static void Keep(std::unique_ptr<Engine> engine);
  void DeadLetter(const std::string& reason, uint64_t line, std::string_view input, uint64_t size);
  void Ingest(Event& event, std::string_view text, uint64_t size);
  void FeedEvent(const Line& line, uint64_t line_no, const std::optional<std::string_view>& key);
  void Drain();  // what the stream clock decided
  std::unique_ptr<Impl> impl_;
  HostStats stats_;
  bool finished_ = false;
  bool wall_clock_ = false;
};

/// Streams every line of `in` through the rules of `module` (a FileHost run to the end).
/// With `keep_state`, the engine's state is not freed on return (FileHost::KeepState).
HostStats RunFileHost(const ir::Module& module, const ReadFn& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress = {}, bool keep_state = false);
/// The same over a stream.
HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress = {}, bool keep_state = false);

}  // namespace cdr::runtime
