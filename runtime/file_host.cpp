// runtime/file_host.cpp: the read-decode-ingest loop of the file host.
#include "runtime/file_host.h"

#include <memory>
#include <string>
#include <vector>

#include "runtime/decode.h"
#include "runtime/stream_clock.h"
#include "stdlib/utf8.h"

namespace cdr::runtime {

namespace {
constexpr size_t kReadBlock = 4 << 20;  // larger than kMaxEventBytes: any event line fits whole
static_assert(kReadBlock > kMaxEventBytes);
}

HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  return RunFileHost(module, StreamSource(in), out, options, progress, keep_state);
}

HostStats RunFileHost(const ir::Module& module, const ReadFn& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  auto owned = std::make_unique<Engine>(module, options, Outputs{out.alerts, out.trace, out.late, out.late_input});
  Engine& engine = *owned;
  if (keep_state) {
    // A process about to exit need not free millions of small objects one by one (as
    // compilers skip freeing their ASTs): the state stays reachable from here until exit.
    static auto* kept = new std::vector<std::unique_ptr<Engine>>();  // never destroyed
    kept->push_back(std::move(owned));
  }
  EventDecoder decoder(module, engine.interner());
  HostStats stats;
  uint64_t line_no = 0;
  LineReader reader(in, kReadBlock, kMaxRefusedInput);
  Line line;
  Event event;
  // An event that cannot be used: counted, and written with its reason and input line.
  auto dead_letter = [&](const std::string& reason, uint64_t line, std::string_view input, uint64_t size) {
    ++stats.dead_lettered;
    if (out.dead_letter) *out.dead_letter << RefusalLine(reason, line, input, size, out.dead_letter_input);
  };
  auto snapshot = [&]() {
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
  };
  StreamClockOptions clock_options = options.clock;
  clock_options.end_reach_ms = options.allowed_lateness_ms;
  StreamClock clock(clock_options);
  // Ingests one decoded event and reports what the engine made of it.
  auto ingest = [&](std::string_view text, uint64_t size) {
    stats.implausible_kept += event.implausible;
    switch (engine.Ingest(event)) {
      case Engine::Outcome::Applied:
      case Engine::Outcome::Late: break;  // the engine writes late events (with their source)
      case Engine::Outcome::UnknownCorrection:
        dead_letter(
            "entered-in-error for an event id that is not known (never seen, or older than the retention); kept, so "
            "that a version of it recorded earlier and arriving later is ignored",
            event.source_line, text, size);
        break;
    }
  };
  // What the clock decided since: jumps of the stream time, held events to use now (decoded
  // again: the clock keeps their text) or to quarantine.
  ClockAction action;
  auto drain = [&]() {
    while (clock.Next(action)) {
      switch (action.kind) {
        case ClockAction::Jump: engine.AdvanceTo(action.time - 1); break;
        case ClockAction::Release:
          if (auto reason = decoder.Decode(action.event.text, event)) {  // cannot happen: it decoded before
            dead_letter(*reason, action.event.line, action.event.text, action.event.text.size());
            break;
          }
          event.source = action.event.text;
          event.source_line = action.event.line;
          ingest(action.event.text, action.event.text.size());
          break;
        case ClockAction::Quarantine:
          dead_letter(action.reason, action.event.line, action.event.text, action.event.text.size());
          break;
      }
    }
  };
  while (reader.Next(line)) {
    ++line_no;
    if (line.size == line.text.size() && line.text.find_first_not_of(" \t\r") == std::string::npos) {
      ++stats.blank;
      continue;
    }
    ++stats.read;
    // A line cut by the reader (longer than a block) is over kMaxEventBytes too.
    std::optional<std::string> reason =
        line.size > kMaxEventBytes ? OversizeReason(line.size) : decoder.Decode(line.text, line.readable, event);
    if (!reason) reason = clock.SkewReason(event.time, event.recorded);
    if (reason) {
      dead_letter(*reason, line_no, line.text, line.size);
    } else if (clock.Admits(event.time)) {
      clock.Admit(event.time);
      event.source = line.text;
      event.source_line = line_no;
      ingest(line.text, line.size);
      drain();
    } else {
      clock.Hold(HeldEvent{line_no, std::string(line.text), event.time, std::string(event.patient)});
      drain();
    }
    if (out.after_line && !out.after_line()) {
      stats.stopped = true;
      break;
    }
    if (progress && (stats.read & 0xFFFF) == 0) {
      snapshot();
      progress(stats);
    }
  }
  if (!stats.stopped) {  // a stopped run writes nothing more
    clock.Finish();
    drain();
    engine.Finish();
  }
  stats.held = clock.held_total();
  stats.quarantined = clock.quarantined();
  stats.read_error = reader.error();
  snapshot();
  return stats;
}

}  // namespace cdr::runtime
