// runtime/file_host.cpp: the read-decode-ingest loop of the file host.
#include "runtime/file_host.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/decode.h"
#include "runtime/json_sink.h"
#include "runtime/stream_clock.h"
#include "stdlib/utf8.h"

namespace cdr::runtime {

namespace {
constexpr size_t kReadBlock = 4 << 20;  // larger than kMaxEventBytes: any event line fits whole
static_assert(kReadBlock > kMaxEventBytes);
}

struct FileHost::Impl {
  Impl(const ir::Module& module, const HostOutputs& out, const EngineOptions& options)
      : out(out),
        options(options),
        owned(std::make_unique<Engine>(module, options, out.sink)),
        engine(owned.get()),
        decoder(std::make_unique<EventDecoder>(module, engine->interner())),
        clock(ClockOptions(options)) {}
  static StreamClockOptions ClockOptions(const EngineOptions& options) {
    StreamClockOptions clock_options = options.clock;
    clock_options.end_reach_ms = options.allowed_lateness_ms;
    return clock_options;
  }
  HostOutputs out;
  EngineOptions options;
  std::unique_ptr<Engine> owned;  // null once kept (KeepState)
  Engine* engine;
  std::unique_ptr<EventDecoder> decoder;
  bool keep = false;  // KeepState: engines are never freed
  StreamClock clock;
  uint64_t line_no = 0;
  uint64_t base_offset = 0;            // input consumed before a restore
  const LineReader* reader = nullptr;  // while Run reads
  Event event;                         // the line being fed, decoded
  uint64_t consumed = 0;               // by the last Run's reader, once it returned
  // With a format: it, the translation of the record being fed, and the input used up to
  // the end of the last record (what a restore continues after).
  std::unique_ptr<InputFormat> format;
  Translation translation;
  std::string event_line;  // an event of the translation, padded for the decoder
  uint64_t records_end = 0;
};

FileHost::FileHost(const ir::Module& module, const HostOutputs& out, const EngineOptions& options)
    : impl_(std::make_unique<Impl>(module, out, options)) {}

FileHost::~FileHost() = default;

void FileHost::KeepState() {
  // A process about to exit need not free millions of small objects one by one (as
  // compilers skip freeing their ASTs): the state stays reachable from here until exit.
  impl_->keep = true;
  if (impl_->owned) Keep(std::move(impl_->owned));
}

void FileHost::Keep(std::unique_ptr<Engine> engine) {
  static auto* kept = new std::vector<std::unique_ptr<Engine>>();  // never destroyed
  kept->push_back(std::move(engine));
}

bool FileHost::Reload(const ir::Module& module, std::vector<std::vector<NativeBlock>> native, std::string& error) {
  EngineOptions options = impl_->options;
  options.native = std::move(native);
  options.take_native = nullptr;
  auto fresh = Engine::Reload(module, options, impl_->out.sink, *impl_->engine, error);
  if (!fresh) return false;
  impl_->engine = fresh.get();
  impl_->decoder = std::make_unique<EventDecoder>(module, fresh->interner());
  // The engine that ran until now: freed, or kept as the host keeps its engines.
  if (impl_->keep) {
    Keep(std::move(fresh));
  } else {
    impl_->owned = std::move(fresh);
  }
  return true;
}

const Engine& FileHost::engine() const { return *impl_->engine; }

uint64_t FileHost::input_offset() const {
  if (impl_->format) return impl_->base_offset + impl_->records_end;
  return impl_->base_offset + (impl_->reader ? impl_->reader->consumed() : impl_->consumed);
}

void FileHost::SetFormat(std::unique_ptr<InputFormat> format) { impl_->format = std::move(format); }

void FileHost::Save(CheckpointWriter& out) const {
  out.U64(input_offset());
  out.U64(impl_->line_no);
  for (uint64_t v : {stats_.read, stats_.dead_lettered, stats_.blank, stats_.implausible_kept}) out.U64(v);
  impl_->clock.Save(out);
  impl_->engine->Save(out);
}

bool FileHost::Restore(CheckpointReader& in) {
  impl_->base_offset = in.U64();
  impl_->line_no = in.U64();
  for (uint64_t* v : {&stats_.read, &stats_.dead_lettered, &stats_.blank, &stats_.implausible_kept}) *v = in.U64();
  return impl_->clock.Restore(in) && impl_->engine->Restore(in) && in.done();
}

// Counts a line that cannot be used and hands it to the sink with its reason.
void FileHost::DeadLetter(const std::string& reason, uint64_t line, std::string_view input, uint64_t size) {
  ++stats_.dead_lettered;
  if (impl_->out.sink) impl_->out.sink->DeadLetter(Refusal{reason, line, input, size});
}

void FileHost::Ingest(Event& event, std::string_view text, uint64_t size) {
  stats_.implausible_kept += event.implausible;
  switch (impl_->engine->Ingest(event)) {
    case Engine::Outcome::Applied:
    case Engine::Outcome::Late: break;  // the engine hands late events to the sink (with their source)
    case Engine::Outcome::UnknownCorrection:
      DeadLetter(
          "entered-in-error for an event id that is not known (never seen, or older than the retention); kept, so "
          "that a version of it recorded earlier and arriving later is ignored",
          event.source_line, text, size);
      break;
  }
}

void FileHost::Drain() {
  Impl& h = *impl_;
  // What the clock decided since: jumps of the stream time, held events to use now (decoded
  // again: the clock keeps their text) or to quarantine.
  ClockAction action;
  Event event;
  while (h.clock.Next(action)) {
    switch (action.kind) {
      case ClockAction::Jump: h.engine->AdvanceTo(action.time - 1); break;
      case ClockAction::Release:
        if (auto reason = h.decoder->Decode(action.event.text, event)) {  // cannot happen: it decoded before
          DeadLetter(*reason, action.event.line, action.event.text, action.event.text.size());
          break;
        }
        event.source = action.event.text;
        event.source_line = action.event.line;
        Ingest(event, action.event.text, action.event.text.size());
        break;
      case ClockAction::Quarantine:
        DeadLetter(action.reason, action.event.line, action.event.text, action.event.text.size());
        break;
    }
  }
}

void FileHost::Feed(const Line& line, uint64_t line_no, const std::optional<std::string_view>& key) {
  Impl& h = *impl_;
  if (line.size == line.text.size() && line.text.find_first_not_of(" \t\r") == std::string::npos) {
    h.line_no = line_no;
    ++stats_.blank;
    return;
  }
  if (h.format) return FeedRecord(Record{line.text, line_no, line_no, 0, line.size}, key);
  h.line_no = line_no;
  FeedEvent(line, line_no, key);
}

void FileHost::FeedRecord(const Record& record, const std::optional<std::string_view>& key) {
  Impl& h = *impl_;
  ++stats_.records;
  h.line_no = record.last_line;
  h.records_end = record.end_offset;
  h.format->TranslateRecord(record, h.translation);
  stats_.skipped += h.translation.skipped;
  for (Translation::Item& item : h.translation.items) {
    if (item.event.empty()) {
      ++stats_.read;
      DeadLetter(item.reason, record.line, record.text, record.size);
      continue;
    }
    // The event line, padded for the decoder (events held by the stream clock keep it).
    h.event_line.assign(item.event);
    h.event_line.append(kLinePadding, ' ');
    FeedEvent(Line{std::string_view(h.event_line.data(), item.event.size()), h.event_line.size(), item.event.size()},
              record.line, key);
  }
}

void FileHost::Stray(const Record& text, const std::string& reason) {
  impl_->line_no = text.last_line;
  impl_->records_end = text.end_offset;
  ++stats_.records;
  ++stats_.read;
  DeadLetter(reason, text.line, text.text, text.size);
}

void FileHost::FeedEvent(const Line& line, uint64_t line_no, const std::optional<std::string_view>& key) {
  Impl& h = *impl_;
  ++stats_.read;
  Event& event = h.event;
  // A line cut by the reader (longer than a block) is over kMaxEventBytes too.
  std::optional<std::string> reason =
      line.size > kMaxEventBytes ? OversizeReason(line.size) : h.decoder->Decode(line.text, line.readable, event);
  if (!reason) reason = h.clock.SkewReason(event.time, event.recorded);
  if (!reason && key && *key != event.patient) {
    reason = (key->empty() ? std::string("the message has no key") : "the message key " + JsonString(*key) +
                                                                          " is not the event's patient " +
                                                                          JsonString(event.patient)) +
             ": key each event by its patient id, so that all of a patient's events are in one partition";
  }
  if (reason) {
    DeadLetter(*reason, line_no, line.text, line.size);
  } else if (h.clock.Admits(event.time)) {
    h.clock.Admit(event.time);
    event.source = line.text;
    event.source_line = line_no;
    Ingest(event, line.text, line.size);
    Drain();
  } else {
    h.clock.Hold(HeldEvent{line_no, std::string(line.text), event.time, std::string(event.patient)});
    Drain();
  }
}

void FileHost::Idle(int64_t now_ms) {
  impl_->clock.Corroborate(now_ms);
  Drain();
  impl_->engine->AdvanceTo(now_ms);
}

void FileHost::Finish() {
  impl_->clock.Finish();
  Drain();
  impl_->engine->Finish();
  finished_ = true;
}

const HostStats& FileHost::stats() {
  Engine& engine = *impl_->engine;
  HostStats& stats = stats_;
  stats.native = engine.native();
  stats.native_from_event = engine.native_from_event();
  stats.patients = engine.patients();
  stats.fired = engine.counters().fired;
  stats.retracted = engine.counters().retracted;
  stats.superseded = engine.counters().superseded;
  // The engine finds some late events only when it applies their group (a new version
  // of an event from before the watermark): its count is the one.
  stats.late = engine.counters().late;
  stats.used = stats.read - stats.dead_lettered - stats.late;
  stats.held = impl_->clock.held_total();
  stats.quarantined = impl_->clock.quarantined();
  return stats;
}

namespace {

// Feeds the records a format's splitter completes to the host, each followed by the
// host's after_line (a stop is kept: the records after it are not fed).
class RecordFeeder final : public RecordSink {
 public:
  RecordFeeder(FileHost& host, const HostOutputs& out) : host_(host), out_(out) {}
  void OnRecord(const Record& record) override {
    if (stop_) return;
    host_.FeedRecord(record);
    After();
  }
  void OnStray(const Record& text, std::string reason) override {
    if (stop_) return;
    host_.Stray(text, reason);
    After();
  }
  bool stop() const { return stop_; }

 private:
  void After() { stop_ = out_.after_line && !out_.after_line(); }
  FileHost& host_;
  const HostOutputs& out_;
  bool stop_ = false;
};

}  // namespace

HostStats FileHost::Run(const ReadFn& in, const std::function<void(const HostStats&)>& progress, OnStop on_stop) {
  Impl& h = *impl_;
  const HostOutputs& out = h.out;
  // With a format, lines go to its splitter, which hands out the records they make.
  std::unique_ptr<RecordSplitter> splitter = h.format ? h.format->Splitter() : nullptr;
  RecordFeeder records(*this, out);
  LineReader reader(in, h.format ? std::max(kReadBlock, h.format->max_line_bytes()) : kReadBlock, kMaxRefusedInput,
                    h.format && h.format->cr_ends_lines());
  h.reader = &reader;
  Line line;
  uint64_t lines = h.line_no;  // with a format: lines read (h.line_no: to the last record fed)
  uint64_t next_progress = stats_.read + 0x10000;
  for (;;) {
    if (!reader.Next(line)) {
      if (!reader.idle()) break;
      if (splitter) {
        splitter->Idle(records);
        if ((stats_.stopped = records.stop())) break;
      }
      // A quiet feed: the panel being gathered (a patient's events of one time) is
      // applied now rather than when the next line shows it ended (its eager alerts go out).
      h.engine->FlushPending();
      if (wall_clock_) {
        Idle(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count());
      }
      if (out.on_idle && !out.on_idle()) {
        stats_.stopped = true;
        break;
      }
      continue;
    }
    if (out.on_line) out.on_line();
    if (splitter) {
      splitter->Add(line, ++lines, reader.consumed(), records);
      if ((stats_.stopped = records.stop())) break;
    } else {
      Feed(line, h.line_no + 1);
      if (out.after_line && !out.after_line()) {
        stats_.stopped = true;
        break;
      }
    }
    if (progress && stats_.read >= next_progress) {
      next_progress = stats_.read + 0x10000;
      progress(stats());
    }
  }
  stats_.interrupted = reader.stopped();
  stats_.unread = reader.unread();
  stats_.paused = stats_.interrupted && on_stop == OnStop::Pause;
  if (splitter && !stats_.stopped && !stats_.paused) {
    splitter->Flush(records);  // the last record
    stats_.stopped = records.stop();
  }
  if (!stats_.stopped && !stats_.paused) Finish();  // a stopped run writes nothing more
  stats_.read_error = reader.error();
  h.consumed = reader.consumed();
  h.reader = nullptr;
  return stats();
}

HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  return RunFileHost(module, StreamSource(in), out, options, progress, keep_state);
}

HostStats RunFileHost(const ir::Module& module, const ReadFn& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  FileHost host(module, out, options);
  if (keep_state) host.KeepState();
  return host.Run(in, progress);
}

}  // namespace cdr::runtime
