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
}

std::string LossyJsonString(std::string_view s) {
  return JsonString(stdlib::ReplaceInvalidUtf8(s, "\xef\xbf\xbd", /*keep_nul=*/true));  // U+FFFD
}

HostStats RunFileHost(const ir::Module& module, std::istream& in, const HostOutputs& out, const EngineOptions& options,
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
  std::string line;
  Event event;
  auto reject = [&](std::ostream* to, const std::string& reason, std::string_view input) {
    if (!to) return;
    bool truncated = input.size() > kMaxDeadLetterInput;
    *to << "{\"reason\":" << JsonString(reason) << ",\"line\":" << line_no
        << ",\"input\":" << LossyJsonString(input.substr(0, kMaxDeadLetterInput)) << (truncated ? ",\"truncated\":true" : "")
        << "}\n";
  };
  auto snapshot = [&]() {
    stats.patients = engine.patients();
    stats.fired = engine.counters().fired;
    stats.retracted = engine.counters().retracted;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      ++stats.blank;
      continue;
    }
    ++stats.read;
    if (auto reason = decoder.Decode(line, event)) {
      ++stats.dead_lettered;
      reject(out.dead_letter, *reason, line);
    } else {
      switch (engine.Ingest(event)) {
        case Engine::Outcome::Applied: ++stats.used; break;
        case Engine::Outcome::Late:
          ++stats.late;
          reject(out.late, "later than the allowed lateness", line);
          break;
        case Engine::Outcome::UnknownCorrection:
          ++stats.dead_lettered;
          reject(out.dead_letter, "entered-in-error for an event id that is not known (never seen, or older than the retention)", line);
          break;
      }
    }
    if (progress && (stats.read & 0xFFFF) == 0) {
      snapshot();
      progress(stats);
    }
  }
  engine.Finish();
  snapshot();
  return stats;
}

}  // namespace cdr::runtime
