// compiler/driver/run.cpp: `cdr run`: events through the rules with the file host.
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "compiler/driver/backend.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "runtime/output_file.h"
#include "stdlib/decimal.h"
#include "stdlib/units.h"

namespace cdr::driver {
namespace {

// SIGTERM or SIGINT asked the run to stop (the signal's number), 0 otherwise.
volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int sig) { g_stop_signal = sig; }

// The first SIGTERM or SIGINT ends the input where it is: the event being processed
// finishes and the run ends as at the end of its input. A second one kills as usual.
void CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: a read waiting on a quiet feed returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

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
  // Every output is opened, and checked against the input and the others, before any is
  // emptied: a refused run leaves every existing file as it was.
  mode_t mode = 0;
  {
    char* end = nullptr;
    unsigned long m = std::strtoul(o.output_mode.c_str(), &end, 8);
    if (o.output_mode.empty() || *end != '\0' || m > 0777) {
      std::cerr << "cdr run: --output-mode " << o.output_mode << " is not an octal file mode such as 600\n";
      return kUsage;
    }
    mode = static_cast<mode_t>(m);
  }
  std::vector<std::pair<std::string, std::unique_ptr<runtime::OutputFile>>> files;
  auto refuse = [&](const std::string& message) {
    std::cerr << "cdr run: " << message << "\n";
    for (auto& [_, f] : files) f->RemoveIfCreated();
    if (in_fd != STDIN_FILENO) ::close(in_fd);
    return kUsage;
  };
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--out", o.out}, {"--trace", o.trace},
                                   {"--dead-letter", o.dead_letter}, {"--late", o.late}}) {
    if (path.empty() || path == "-") continue;
    std::string error;
    auto f = runtime::OutputFile::Open(path, mode, error);
    if (!f) return refuse(error);
    files.emplace_back(flag, std::move(f));
  }
  if (auto same = runtime::FindSameFile(in_fd, "--events", files); !same.path.empty()) {
    return refuse(same.first + " and " + same.second + " name the same file (" + same.path + ")");
  }
  for (auto& [_, f] : files) {
    std::string error;
    if (!f->Truncate(error)) return refuse(error);
  }
  auto file_of = [&](const std::string& flag) -> runtime::OutputFile* {
    for (auto& [name, f] : files) {
      if (name == flag) return f.get();
    }
    return nullptr;
  };
  auto output = [&](const std::string& flag, std::ostream* otherwise) {
    runtime::OutputFile* f = file_of(flag);
    return f ? &f->stream() : otherwise;
  };
  runtime::OutputFile* alerts_file = file_of("--out");
  if (alerts_file) alerts_file->SetSync(o.fsync);
  std::ostream* alerts = output("--out", &std::cout);
  std::ostream* trace = output("--trace", o.trace == "-" ? &std::cout : nullptr);
  std::ostream* dead = output("--dead-letter", o.dead_letter == "-" ? &std::cout : &std::cerr);
  std::ostream* late = output("--late", o.late == "-" ? &std::cout : &std::cerr);

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
  // After each event: its alerts to their file (--flush alert), and any failed write stops
  // the intake at once.
  std::string write_error;  // the first output that failed, named, with the reason
  const bool flush_each = o.flush == "alert";
  auto after_line = [&]() {
    if (flush_each && alerts_file) alerts_file->Flush();
    if (flush_each && alerts == &std::cout) std::cout.flush();
    for (auto& [_, f] : files) {
      if (f->error()) {
        write_error = f->ErrorText();
        return false;
      }
    }
    if (!std::cout) {
      write_error = "cannot write stdout";
      return false;
    }
    return true;
  };
  // Refused events quote their text only in a file named for them: stderr ends up in logs.
  runtime::HostOutputs host_outputs{alerts, trace, dead, late, dead != &std::cerr, late != &std::cerr, after_line};
  CatchStopSignals();
  runtime::HostStats s = runtime::RunFileHost(fe.module, runtime::FdSource(in_fd, &g_stop_signal), host_outputs, options,
                                              progress ? std::function<void(const runtime::HostStats&)>(report) : nullptr,
                                              /*keep_state=*/true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The outputs are complete before anything more is said: the summary goes to stderr,
  // and a reader of stderr that stops early (a closed pipe) must not cost the output.
  for (auto& [_, f] : files) {
    if (!f->Flush() && write_error.empty()) write_error = f->ErrorText();
  }
  std::cout.flush();
  if (!std::cout && write_error.empty()) write_error = "cannot write stdout";
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
  if (g_stop_signal) {
    std::cerr << "cdr run: stopped by " << (g_stop_signal == SIGTERM ? "SIGTERM" : "SIGINT") << " after event "
              << s.read << "; the rest of the input was not read, and the points still open were decided as at the "
              << "end of the input\n";
  }
  if (in_fd != STDIN_FILENO) ::close(in_fd);
  if (!s.read_error.empty()) {
    std::cerr << "cdr run: error reading " << (o.events == "-" ? "stdin" : o.events) << ": " << s.read_error
              << " (the summary covers the events before it)\n";
    return kUsage;
  }
  if (!write_error.empty()) {
    std::cerr << "cdr run: " << write_error;
    if (s.stopped) std::cerr << "; stopped after event " << s.read << ", the rest of the input not read";
    if (alerts_file) std::cerr << "; " << alerts_file->lines() << " alert lines are on " << alerts_file->path();
    std::cerr << " (the counts above are what the engine made)\n";
    return kUsage;
  }
  return kOk;
}

}  // namespace cdr::driver
