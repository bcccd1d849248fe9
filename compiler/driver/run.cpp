// compiler/driver/run.cpp: `cdr run`: events through the rules with the file host.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "stdlib/decimal.h"
#include "stdlib/units.h"

namespace cdr::driver {
namespace {

// Invalid UTF-8 replaced by U+FFFD so a dead-letter line is always valid JSON.
std::string LossyJsonString(std::string_view s) {
  std::string clean;
  clean.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok) {
      clean += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    clean.append(s, i, len);
    i += len;
  }
  return runtime::JsonString(clean);
}

constexpr size_t kMaxDeadLetterInput = 64 * 1024;

}  // namespace

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  auto number = stdlib::Decimal::Parse(text.substr(0, i));
  std::string unit(text.substr(i));
  if (!number || unit.empty()) return std::nullopt;
  auto u = stdlib::ParseUnit(unit);
  auto ms = stdlib::ParseUnit("ms");
  if (!u || !u->dim.IsTime()) return std::nullopt;
  auto v = stdlib::Convert(*number, *u, *ms);
  if (!v || v->raw() < 0) return std::nullopt;
  return v->raw() / stdlib::Decimal::kOne;
}

int Run(const RunOptions& o) {
  if (o.engine == "jit") {
    std::cerr << "cdr run: the JIT back end is not built yet (issue #4); use --engine interp\n";
    return kUsage;
  }
  auto lateness = ParseDurationMs(o.allowed_lateness);
  if (!lateness) {
    std::cerr << "cdr run: --allowed-lateness " << o.allowed_lateness << " is not a duration such as 24h or 90min\n";
    return kUsage;
  }
  std::vector<std::string> files;
  std::string error;
  if (!CollectFiles(o.rules, files, error)) {
    std::cerr << "cdr run: " << error << "\n";
    return kUsage;
  }
  Frontend fe;
  fe.Load(files);
  fe.Check();
  bool ok = fe.Lower();
  if (fe.diags.error_count() > 0) {
    std::cerr << diag::FormatText(fe.diags);
    std::cerr << "cdr run: rules refused\n";
    return fe.io_error ? kUsage : kFailed;
  }
  if (!ok) return kFailed;

  // Outputs.
  std::istream* in = &std::cin;
  std::ifstream in_file;
  if (o.events != "-") {
    in_file.open(o.events, std::ios::binary);
    if (!in_file) {
      std::cerr << "cdr run: cannot read " << o.events << "\n";
      return kUsage;
    }
    in = &in_file;
  }
  auto open = [&](const std::string& path, std::unique_ptr<std::ofstream>& holder) -> std::ostream* {
    if (path.empty()) return nullptr;
    if (path == "-") return &std::cout;
    holder = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*holder) {
      std::cerr << "cdr run: cannot write " << path << "\n";
      return nullptr;
    }
    return holder.get();
  };
  std::unique_ptr<std::ofstream> alerts_file, trace_file, dead_file, late_file;
  std::ostream* alerts = o.out.empty() ? &std::cout : open(o.out, alerts_file);
  std::ostream* trace = open(o.trace, trace_file);
  std::ostream* dead = o.dead_letter.empty() ? &std::cerr : open(o.dead_letter, dead_file);
  std::ostream* late = o.late.empty() ? &std::cerr : open(o.late, late_file);
  if (!alerts || (!o.trace.empty() && !trace) || !dead || !late) return kUsage;

  runtime::EngineOptions options;
  options.allowed_lateness_ms = *lateness;
  runtime::Engine engine(fe.module, options, runtime::Outputs{alerts, trace});
  runtime::EventDecoder decoder(fe.module, engine.interner());

  uint64_t read = 0, used = 0, dead_count = 0, late_count = 0, blank = 0, line_no = 0;
  bool progress = o.progress || (isatty(STDERR_FILENO) && o.events != "-");
  auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  std::string line;
  runtime::Event event;
  auto dead_letter = [&](const std::string& reason, std::string_view input) {
    ++dead_count;
    bool truncated = input.size() > kMaxDeadLetterInput;
    *dead << "{\"reason\":" << runtime::JsonString(reason) << ",\"line\":" << line_no
          << ",\"input\":" << LossyJsonString(input.substr(0, kMaxDeadLetterInput))
          << (truncated ? ",\"truncated\":true" : "") << "}\n";
  };
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      ++blank;
      continue;
    }
    ++read;
    if (auto reason = decoder.Decode(line, event)) {
      dead_letter(*reason, line);
      continue;
    }
    switch (engine.Ingest(std::move(event))) {
      case runtime::Engine::Outcome::Applied: ++used; break;
      case runtime::Engine::Outcome::Late:
        ++late_count;
        *late << "{\"reason\":\"later than the allowed lateness\",\"line\":" << line_no
              << ",\"input\":" << LossyJsonString(line) << "}\n";
        break;
      case runtime::Engine::Outcome::UnknownCorrection:
        dead_letter("entered-in-error for an event id that is not known (never seen, or older than the retention)", line);
        break;
    }
    if (progress && (read & 0xFFFF) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::seconds(1)) {
        last_report = now;
        double secs = std::chrono::duration<double>(now - start).count();
        std::cerr << fmt::format("\rcdr run: {} events, {:.0f} events/s, {} patients, {} alerts", read, read / secs,
                                 engine.patients(), engine.counters().fired)
                  << std::flush;
      }
    }
  }
  engine.Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& c = engine.counters();
  if (progress) std::cerr << "\n";
  std::cerr << fmt::format(
      "cdr run: {} events read: {} used, {} dead-lettered, {} late; {} patients; {} alerts fired, {} retracted; "
      "{:.2f} s ({:.0f} events/s)\n",
      read, used, dead_count, late_count, engine.patients(), c.fired, c.retracted, secs, secs > 0 ? read / secs : 0.0);
  if (blank) std::cerr << fmt::format("cdr run: {} blank lines skipped\n", blank);
  alerts->flush();
  if (trace) trace->flush();
  if (!*alerts || (trace && !*trace)) {
    std::cerr << "cdr run: error writing output\n";
    return kUsage;
  }
  return kOk;
}

}  // namespace cdr::driver
