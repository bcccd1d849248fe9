// runtime/file_host.cpp: the read-decode-ingest loop of the file host.
#include "runtime/file_host.h"

#include <memory>
#include <string>
#include <vector>

#include "runtime/decode.h"
#include "stdlib/utf8.h"

namespace cdr::runtime {

namespace {
constexpr size_t kMaxDeadLetterInput = 64 * 1024;
constexpr size_t kReadBlock = 4 << 20;  // larger than kMaxEventBytes: any event line fits whole
static_assert(kReadBlock > kMaxEventBytes);
}

std::string LossyJsonString(std::string_view s) {
  return JsonString(stdlib::ReplaceInvalidUtf8(s, "\xef\xbf\xbd", /*keep_nul=*/true));  // U+FFFD
}

HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  return RunFileHost(module, StreamSource(in), out, options, progress, keep_state);
}

HostStats RunFileHost(const ir::Module& module, const ReadFn& in, const HostOutputs& out, const EngineOptions& options,
                      const std::function<void(const HostStats&)>& progress, bool keep_state) {
  auto owned = std::make_unique<Engine>(module, options, Outputs{out.alerts, out.trace});
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
  LineReader reader(in, kReadBlock, kMaxDeadLetterInput);
  Line line;
  Event event;
  auto reject = [&](std::ostream* to, const std::string& reason, std::string_view input, uint64_t size) {
    if (!to) return;
    bool truncated = size > kMaxDeadLetterInput;
    *to << "{\"reason\":" << JsonString(reason) << ",\"line\":" << line_no
        << ",\"input\":" << LossyJsonString(input.substr(0, kMaxDeadLetterInput)) << (truncated ? ",\"truncated\":true" : "")
        << "}\n";
  };
  auto snapshot = [&]() {
    stats.native = engine.native();
    stats.native_from_event = engine.native_from_event();
    stats.patients = engine.patients();
    stats.fired = engine.counters().fired;
    stats.retracted = engine.counters().retracted;
  };
  while (reader.Next(line)) {
    ++line_no;
    if (line.size == line.text.size() && line.text.find_first_not_of(" \t\r") == std::string::npos) {
      ++stats.blank;
      continue;
    }
    ++stats.read;
    // A line cut by the reader (longer than a block) is over kMaxEventBytes too.
    if (auto reason = line.size > kMaxEventBytes ? OversizeReason(line.size)
                                                 : decoder.Decode(line.text, line.readable, event)) {
      ++stats.dead_lettered;
      reject(out.dead_letter, *reason, line.text, line.size);
    } else {
      switch (engine.Ingest(event)) {
        case Engine::Outcome::Applied: ++stats.used; break;
        case Engine::Outcome::Late:
          ++stats.late;
          reject(out.late, "later than the allowed lateness", line.text, line.size);
          break;
        case Engine::Outcome::UnknownCorrection:
          ++stats.dead_lettered;
          reject(out.dead_letter, "entered-in-error for an event id that is not known (never seen, or older than the retention)", line.text, line.size);
          break;
      }
    }
    if (progress && (stats.read & 0xFFFF) == 0) {
      snapshot();
      progress(stats);
    }
  }
  stats.read_error = reader.error();
  engine.Finish();
  snapshot();
  return stats;
}

}  // namespace cdr::runtime
