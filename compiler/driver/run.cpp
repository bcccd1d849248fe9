// compiler/driver/run.cpp: `cdr run`: events through the rules with the file host.
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "compiler/driver/backend.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "stdlib/decimal.h"
#include "stdlib/units.h"

namespace cdr::driver {
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
  auto lateness = ParseDurationMs(o.allowed_lateness);
  if (!lateness) {
    std::cerr << "cdr run: --allowed-lateness " << o.allowed_lateness << " is not a duration such as 24h or 90min\n";
    return kUsage;
  }
  // A duration, or `off` (-1).
  auto duration_or_off = [](const std::string& text) -> std::optional<int64_t> {
    if (text == "off") return -1;
    return ParseDurationMs(text);
  };
  auto max_ahead = duration_or_off(o.max_ahead);
  auto max_skew = duration_or_off(o.max_clock_skew);
  if (!max_ahead || !max_skew) {
    std::cerr << "cdr run: " << (max_ahead ? "--max-clock-skew " + o.max_clock_skew : "--max-ahead " + o.max_ahead)
              << " is not a duration such as 1h or 5min, or off\n";
    return kUsage;
  }
  if (*max_ahead >= 0 && *max_ahead > *lateness) {
    std::cerr << "cdr run: --max-ahead " << o.max_ahead << " is longer than --allowed-lateness " << o.allowed_lateness
              << ": one event could then make every other patient's data late\n";
    return kUsage;
  }
  Frontend fe;
  if (int status = CompileOrReport(fe, o.rules, "cdr run"); status != kOk) return status;

  // Outputs.
  // Read with read(2): a pipe's lines are used as soon as they arrive.
  int in_fd = STDIN_FILENO;
  if (o.events != "-") {
    in_fd = ::open(o.events.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (in_fd < 0 || ::fstat(in_fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      std::cerr << "cdr run: cannot read " << o.events << (in_fd >= 0 ? ": is a directory" : "") << "\n";
      if (in_fd >= 0) ::close(in_fd);
      return kUsage;
    }
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
  options.emit = o.emit == "eager" ? runtime::Emit::Eager : runtime::Emit::Settled;
  options.clock.max_ahead_ms = *max_ahead;
  options.clock.max_clock_skew_ms = *max_skew;
  Backend backend;
  if (auto err = backend.Prepare(o.engine, o.opt, fe.module, options)) {
    std::cerr << "cdr run: --engine " << o.engine << ": " << *err << "\n";
    return kFailed;
  }
  bool progress = o.progress || (isatty(STDERR_FILENO) && o.events != "-");
  auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  auto report = [&](const runtime::HostStats& s) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_report < std::chrono::seconds(1)) return;
    last_report = now;
    double secs = std::chrono::duration<double>(now - start).count();
    std::cerr << fmt::format("\rcdr run: {} events, {:.0f} events/s, {} patients, {} alerts", s.read, s.read / secs,
                             s.patients, s.fired)
              << std::flush;
  };
  runtime::HostStats s = runtime::RunFileHost(fe.module, runtime::FdSource(in_fd), runtime::HostOutputs{alerts, trace, dead, late}, options,
                                              progress ? std::function<void(const runtime::HostStats&)>(report) : nullptr,
                                              /*keep_state=*/true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The outputs are complete before anything more is said: the summary goes to stderr,
  // and a reader of stderr that stops early (a closed pipe) must not cost the output.
  alerts->flush();
  if (trace) trace->flush();
  for (std::ostream* refused : {dead, late}) refused->flush();
  bool write_failed = !*alerts || (trace && !*trace);
  if (progress) std::cerr << "\n";
  std::cerr << fmt::format(
      "cdr run: {} events read: {} used, {} dead-lettered, {} late; {} patients; {} alerts fired, {} retracted; "
      "{:.2f} s ({:.0f} events/s)\n",
      s.read, s.used, s.dead_lettered, s.late, s.patients, s.fired, s.retracted, secs, secs > 0 ? s.read / secs : 0.0);
  if (s.blank) std::cerr << fmt::format("cdr run: {} blank lines skipped\n", s.blank);
  if (s.held) {
    std::cerr << fmt::format(
        "cdr run: {} events were held (more than --max-ahead after the stream time); {} of them never corroborated "
        "by another patient's events, dead-lettered\n",
        s.held, s.quarantined);
  }
  if (s.implausible_kept) {
    std::cerr << fmt::format("cdr run: {} values outside their plausible range were kept, as their schema says (`keep`)\n",
                             s.implausible_kept);
  }
  if (s.superseded) {
    std::cerr << fmt::format("cdr run: {} versions of an event arrived after a version recorded later, and changed nothing\n",
                             s.superseded);
  }
  backend.Join();
  std::cerr << "cdr run: " << backend.Describe(s.native, s.native_from_event) << "\n";
  if (in_fd != STDIN_FILENO) ::close(in_fd);
  if (!s.read_error.empty()) {
    std::cerr << "cdr run: error reading " << (o.events == "-" ? "stdin" : o.events) << ": " << s.read_error
              << " (the summary covers the events before it)\n";
    return kUsage;
  }
  if (write_failed) {
    std::cerr << "cdr run: error writing output\n";
    return kUsage;
  }
  return kOk;
}

}  // namespace cdr::driver
