// compiler/driver/run.cpp: `cdr run` and `cdr serve`: events through the rules with the file host.
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
#include <optional>

#include "compiler/driver/admin.h"
#include "compiler/driver/fhir_http.h"
#include "compiler/driver/backend.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/driver/reload.h"
#include "compiler/driver/run_stats.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "runtime/follow_source.h"
#include "runtime/journal.h"
#include "runtime/mllp.h"
#include "runtime/json_sink.h"
#include "runtime/host_checkpoint.h"
#include "runtime/output_file.h"
#include "stdlib/decimal.h"
#include "stdlib/time.h"
#include "stdlib/units.h"

namespace cdr::driver {
namespace {

// SIGTERM or SIGINT asked the run to stop (the signal's number), 0 otherwise.
volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int sig) { g_stop_signal = sig; }

// SIGHUP asked serve to reload its rules.
volatile sig_atomic_t g_reload_signal = 0;

void OnReloadSignal(int) { g_reload_signal = 1; }

}  // namespace

std::string NowText() {
  return stdlib::FormatTime(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

volatile sig_atomic_t* CatchReloadSignal() {
  struct sigaction sa {};
  sa.sa_handler = OnReloadSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  return &g_reload_signal;
}

// The first SIGTERM or SIGINT ends the input where it is: the event being processed
// finishes and the run ends as at the end of its input. A second one kills as usual.
volatile sig_atomic_t* CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: a read waiting on a quiet feed returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return &g_stop_signal;
}

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

// The engine's options from the command line, or the message of the first bad one.
std::optional<runtime::EngineOptions> EngineOptionsOf(const RunOptions& o, std::string& error) {
  auto lateness = ParseDurationMs(o.allowed_lateness);
  if (!lateness) {
    error = "--allowed-lateness " + o.allowed_lateness + " is not a duration such as 24h or 90min";
    return std::nullopt;
  }
  // A duration, or `off` (-1).
  auto duration_or_off = [](const std::string& text) -> std::optional<int64_t> {
    if (text == "off") return -1;
    return ParseDurationMs(text);
  };
  auto max_ahead = duration_or_off(o.max_ahead);
  auto max_skew = duration_or_off(o.max_clock_skew);
  if (!max_ahead || !max_skew) {
    error = (max_ahead ? "--max-clock-skew " + o.max_clock_skew : "--max-ahead " + o.max_ahead) +
            " is not a duration such as 1h or 5min, or off";
    return std::nullopt;
  }
  if (*max_ahead >= 0 && *max_ahead > *lateness) {
    error = "--max-ahead " + o.max_ahead + " is longer than --allowed-lateness " + o.allowed_lateness +
            ": one event could then make every other patient's data late";
    return std::nullopt;
  }
  runtime::EngineOptions options;
  options.allowed_lateness_ms = *lateness;
  options.emit = o.emit == "eager" ? runtime::Emit::Eager : runtime::Emit::Settled;
  options.clock.max_ahead_ms = *max_ahead;
  options.clock.max_clock_skew_ms = *max_skew;
  return options;
}

std::string EngineIdentity(const ir::Module& module, const runtime::EngineOptions& options) {
  return fmt::format(
      "rules: sha256:{}\n--allowed-lateness: {} ms\n--emit: {}\n--max-ahead: {}\n--max-clock-skew: {}\n",
      ir::Fingerprint(module), options.allowed_lateness_ms, options.emit == runtime::Emit::Eager ? "eager" : "settled",
      options.clock.max_ahead_ms < 0 ? "off" : std::to_string(options.clock.max_ahead_ms) + " ms",
      options.clock.max_clock_skew_ms < 0 ? "off" : std::to_string(options.clock.max_clock_skew_ms) + " ms");
}

std::optional<std::unique_ptr<runtime::InputFormat>> InputFormatOf(const RunOptions& o, runtime::FormatOptions& format_options,
                                                                   std::string& error) {
  if (!o.timezone.empty()) {
    format_options.default_offset_minutes = runtime::ParseUtcOffset(o.timezone);
    if (!format_options.default_offset_minutes) {
      error = "--timezone " + o.timezone + " is not an offset such as +01:00, -05:30 or Z";
      return std::nullopt;
    }
    if (o.format != "hl7v2") {
      error = "--timezone is for --format hl7v2 (FHIR and NDJSON times carry their zone)";
      return std::nullopt;
    }
  }
  auto format = runtime::MakeInputFormat(o.format, format_options, error);
  if (!format && !error.empty()) return std::nullopt;
  return format;
}

std::string FormatIdentity(const RunOptions& o) {
  return "--format: " + o.format + "\n" + (o.timezone.empty() ? "" : "--timezone: " + o.timezone + "\n");
}

namespace {

// What a checkpoint must have been written with to be continued: the rules (everything
// they decide), the options that change results, and which outputs are written. One line
// each, so a refusal names the one that differs.
std::string CheckpointIdentity(const std::string& command, const RunOptions& o, const ir::Module& module,
                               const runtime::EngineOptions& options, const runtime::OutputFiles& files) {
  std::string outputs;
  for (const auto& [flag, _] : files) outputs += " " + flag;
  return "command: " + command + "\n" + EngineIdentity(module, options) + FormatIdentity(o) + "output files:" + outputs +
         "\n";
}

}  // namespace

namespace {

// Each output's flag and path as given ("-": stdout; empty: not written, stdout for --out).
std::vector<std::pair<std::string, std::string>> OutputPaths(const RunOptions& o) {
  return {{"--out", o.out},
          {"--trace", o.trace},
          {"--dead-letter", o.dead_letter},
          {"--late", o.late},
          {"--shadow", o.shadow}};
}

// The pipeline of `cdr run` (serve null) and `cdr serve`: input, outputs, checkpoints,
// the host, the summary. Serve adds its source, the wall clock and the admin endpoint.
int RunPipeline(const RunOptions& o, const ServeOptions* serve) {
  const std::string name = serve ? "cdr serve" : "cdr run";
  std::string error;
  auto engine_options = EngineOptionsOf(o, error);
  if (!engine_options) {
    std::cerr << name << ": " << error << "\n";
    return kUsage;
  }
  runtime::EngineOptions& options = *engine_options;
  runtime::FormatOptions format_options;
  auto input_format = InputFormatOf(o, format_options, error);
  if (!input_format) {
    std::cerr << name << ": " << error << "\n";
    return kUsage;
  }
  runtime::HostCheckpoints::Options checkpoint_options;
  if (!o.checkpoint.empty()) {
    checkpoint_options.dir = o.checkpoint;
    const std::string& every = o.checkpoint_every;
    if (!every.empty() && every.find_first_not_of("0123456789") == std::string::npos) {
      checkpoint_options.every_events = std::strtoull(every.c_str(), nullptr, 10);
    } else if (auto ms = ParseDurationMs(every)) {
      checkpoint_options.every_ms = *ms;
    }
    if (checkpoint_options.every_events == 0 && checkpoint_options.every_ms <= 0) {
      std::cerr << name << ": --checkpoint-every " << every << " is not a count of events (such as 100000) or a "
                << "duration (such as 30s)\n";
      return kUsage;
    }
    // Exactly once needs outputs that can be cut back to the checkpoint.
    for (const auto& [flag, path] : OutputPaths(o)) {
      if (path == "-" || (flag == "--out" && path.empty())) {
        std::cerr << name << ": --checkpoint needs " << flag << " to name a file: what went to stdout after the "
                  << "checkpoint would be written twice after a restart\n";
        return kUsage;
      }
    }
  }
  // A receiving source (MLLP, FHIR over HTTP) stores each message in a journal (fsync'd
  // before it is acknowledged); the pipeline follows the journal as it follows a file.
  const bool mllp = serve && serve->source.rfind("mllp:", 0) == 0;
  const bool http = serve && serve->source.rfind("http:", 0) == 0;
  if (serve && serve->source != "stdin" && serve->source.rfind("file:", 0) != 0 && !mllp && !http) {
    std::cerr << name << ": --source " << serve->source
              << " is not stdin, file:PATH, kafka:BROKERS/TOPIC, mllp:HOST:PORT or http:HOST:PORT\n";
    return kUsage;
  }
  runtime::Journal journal;
  std::unique_ptr<runtime::MllpListener> listener;
  std::unique_ptr<FhirReceiver> receiver;
  std::string receive_host;
  int receive_port = -1;
  if (mllp || http) {
    const std::string scheme = mllp ? "mllp" : "http";
    if (!ParseHostPort(serve->source.substr(scheme.size() + 1), receive_host, receive_port)) {
      std::cerr << name << ": --source " << serve->source << " is not " << scheme << ":HOST:PORT (such as " << scheme
                << ":127.0.0.1:" << (mllp ? "2575" : "8080") << ")\n";
      return kUsage;
    }
    if (!journal.Open(serve->journal, error)) {
      std::cerr << name << ": " << error << "\n";
      return kUsage;
    }
    if (mllp) {
      listener = runtime::MllpListener::Open(receive_host, receive_port, journal, format_options, error);
      if (!listener) {
        std::cerr << name << ": " << error << "\n";
        return kUsage;
      }
    }
  }
  Frontend fe;
  if (int status = CompileOrReport(fe, o.rules, name.c_str()); status != kOk) return status;
  // Which rules run, and how (docs/governance.md); the audit log, verified before anything runs.
  Deployment deployment;
  if (!deployment.Open(fe, o, name)) return kFailed;

  // The input, read with read(2): a pipe's lines are used as soon as they arrive.
  int in_fd = STDIN_FILENO;
  std::unique_ptr<runtime::FollowFile> follow;
  if (serve && serve->source != "stdin") {
    follow = runtime::FollowFile::Open(mllp || http ? serve->journal : serve->source.substr(5), error);
    if (!follow) {
      std::cerr << name << ": " << error << "\n";
      return kUsage;
    }
    in_fd = follow->fd();
  } else if (!serve && o.events != "-") {
    in_fd = ::open(o.events.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (in_fd < 0 || ::fstat(in_fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      std::cerr << name << ": cannot read " << o.events << (in_fd >= 0 ? ": is a directory" : "") << "\n";
      if (in_fd >= 0) ::close(in_fd);
      return kUsage;
    }
  }
  uint64_t input_size = 0;  // a regular file's size, for the progress line's percentage
  if (struct stat st {}; !follow && ::fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode)) {
    input_size = static_cast<uint64_t>(st.st_size);
  }
  const std::string input_flag = serve ? "--source" : "--events";
  const std::string input_name = serve ? serve->source : (o.events == "-" ? "stdin" : o.events);
  // Every output is opened, and checked against the input and the others, before any is
  // emptied: a refused run leaves every existing file as it was.
  mode_t mode = 0;
  {
    char* end = nullptr;
    unsigned long m = std::strtoul(o.output_mode.c_str(), &end, 8);
    if (o.output_mode.empty() || *end != '\0' || m > 0777) {
      std::cerr << name << ": --output-mode " << o.output_mode << " is not an octal file mode such as 600\n";
      return kUsage;
    }
    mode = static_cast<mode_t>(m);
  }
  runtime::OutputFiles files;
  auto close_input = [&]() {
    if (!follow && in_fd != STDIN_FILENO) ::close(in_fd);
    follow.reset();
  };
  auto refuse = [&](const std::string& message) {
    std::cerr << name << ": " << message << "\n";
    for (auto& [_, f] : files) f->RemoveIfCreated();
    close_input();
    return kUsage;
  };
  for (const auto& [flag, path] : OutputPaths(o)) {
    if (path.empty() || path == "-") continue;
    auto f = runtime::OutputFile::Open(path, mode, error);
    if (!f) return refuse(error);
    files.emplace_back(flag, std::move(f));
  }
  if (auto same = runtime::FindSameFile(in_fd, input_flag, files); !same.path.empty()) {
    return refuse(same.first + " and " + same.second + " name the same file (" + same.path + ")");
  }
  std::unique_ptr<runtime::HostCheckpoints> checkpoints;
  if (!o.checkpoint.empty()) {
    checkpoints =
        runtime::HostCheckpoints::Open(checkpoint_options, CheckpointIdentity(name, o, fe.module, options, files), error);
    if (!checkpoints) return refuse(error);
    if (checkpoints->finished()) {
      refuse("the checkpoint in " + o.checkpoint + " is of a run that read its input to the end: nothing is left "
             "to do (remove the checkpoint to run again from the beginning)");
      return kOk;
    }
  }
  auto file_of = [&](const std::string& flag) -> runtime::OutputFile* {
    for (auto& [flag_name, f] : files) {
      if (flag_name == flag) return f.get();
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
  std::ostream* shadow = output("--shadow", o.shadow == "-" ? &std::cout : nullptr);

  Backend backend;
  if (auto err = backend.Prepare(o.engine, o.opt, fe.module, options)) {
    for (auto& [_, f] : files) f->RemoveIfCreated();
    close_input();
    std::cerr << name << ": --engine " << o.engine << ": " << *err << "\n";
    return kFailed;
  }
  // The rules running: those compiled above, then each set a reload swaps in (every
  // Frontend is kept: an engine kept to the end refers to its module).
  const ir::Module* module = &fe.module;
  std::vector<std::unique_ptr<Frontend>> reloaded;
  std::unique_ptr<RuleReloader> reloader;
  if (serve) {
    reloader = std::make_unique<RuleReloader>(
        RuleReloader::Options{o.rules, o.engine != "interp", o.opt, 300, deployment.options()}, fe.module);
    if (!reloader->Watch(error)) std::cerr << name << ": " << error << "; reload on SIGHUP or POST /reload only\n";
    reloader->RequestOn(CatchReloadSignal());
    reloader->Start();
  }
  std::unique_ptr<AdminServer> admin;
  if (serve && !serve->admin.empty()) {
    admin = std::make_unique<AdminServer>(serve->source, [&reloader] { reloader->Request("POST /reload"); });
    if (!admin->Start(serve->admin, error)) return refuse(error);
    std::cerr << fmt::format("{}: admin endpoint on http://{}\n", name, admin->address());
  }
  runtime::FileHost* host = nullptr;
  // Where the current input file begins, in the host's input offsets (a followed file
  // starts again at each rotation); the checkpoint records the offset in that file. After
  // a restore, the file being read began before the checkpoint (resume_origin), and a file
  // the follower switches to later begins where its delivery reached then (the host
  // offset of the restore, resume_base, plus the bytes delivered since: file_start).
  uint64_t resume_origin = 0, resume_base = 0;
  bool progress = o.progress || (!serve && isatty(STDERR_FILENO) && o.events != "-");
  auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  auto report = [&](const runtime::HostStats& s) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_report < std::chrono::seconds(1)) return;
    last_report = now;
    double secs = std::chrono::duration<double>(now - start).count();
    std::string done = ProgressOfFile(host->input_offset(), input_size, resume_base, secs);
    std::cerr << fmt::format("\r{}: {} events, {:.0f} events/s, {} patients, {} alerts{}   ", name, s.read,
                             s.read / secs, s.patients, s.fired, done)
              << std::flush;
  };

  auto file_offset = [&]() -> int64_t {
    if (!follow) return -1;  // one file or stream: the host's own offset
    const uint64_t begins = follow->rotations() + follow->truncations() == 0 ? resume_origin
                                                                              : resume_base + follow->file_start();
    return static_cast<int64_t>(host->input_offset()) - static_cast<int64_t>(begins);
  };
  // A checkpoint when one is due: false (write_error set) when it cannot be written.
  std::string write_error;  // the first output that failed, named, with the reason
  // `now`: whether due or not (after a reload, so that the checkpoint on disk is of the
  // rules on disk).
  // A checkpoint now: false when it cannot be taken here (the lines of a rotated file are
  // still to be read: at a later one) or written (write_error says why).
  auto write_checkpoint = [&](bool finished) {
    int64_t at = file_offset();
    if (follow && at < 0) return false;
    return checkpoints->Save(*host, files, follow ? follow->fd() : in_fd, finished, write_error, at);
  };
  auto checkpoint_if_due = [&](bool now = false) {
    if (!checkpoints || (!now && !checkpoints->Due(host->lines_read()))) return true;
    return write_checkpoint(/*finished=*/false) || write_error.empty();
  };
  // The admin endpoint's figures, at most every 100 ms (and at once when `now`).
  Metrics metrics;
  auto last_publish = std::chrono::steady_clock::time_point{};
  auto last_state_bytes = std::chrono::steady_clock::time_point{};
  uint64_t checkpoints_before = 0;
  auto publish = [&](bool now) {
    if (!admin) return;
    auto t = std::chrono::steady_clock::now();
    if (!now && t - last_publish < std::chrono::milliseconds(100)) return;
    last_publish = t;
    const runtime::Engine& engine = host->engine();
    metrics.stats.read = host->lines_read();
    metrics.stats.dead_lettered = host->dead_lettered();
    metrics.stats.late = engine.counters().late;
    metrics.stats.used = metrics.stats.read - metrics.stats.dead_lettered - metrics.stats.late;
    metrics.stats.patients = engine.patients();
    metrics.fired_by = engine.counters().fired_by;
    metrics.retracted_by = engine.counters().retracted_by;
    metrics.stream_time = engine.stream_time();
    metrics.watermark = engine.watermark();
    if (t - last_state_bytes >= std::chrono::seconds(10)) {  // a walk over every patient
      last_state_bytes = t;
      metrics.state_bytes = engine.StateBytes();
    }
    if (checkpoints && checkpoints->written() != checkpoints_before) {
      checkpoints_before = checkpoints->written();
      metrics.has_checkpoint = true;
      metrics.last_checkpoint = std::chrono::system_clock::now();
    }
    metrics.checkpoints = checkpoints ? checkpoints->written() : 0;
    if (follow) {
      metrics.rotations = follow->rotations();
      metrics.truncations = follow->truncations();
    }
    metrics.ready = true;
    metrics.module = module;
    admin->Publish(metrics);
  };
  // After each event: its alerts to their file (--flush alert), any failed write stops the
  // intake at once, and a checkpoint when one is due.
  const bool flush_each = o.flush == "alert";
  auto line_start = std::chrono::steady_clock::now();
  uint64_t alerts_before = 0;
  auto flush_and_check = [&]() {
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
  // A reload's result, taken between two events: a candidate swapped in, or the refusal
  // reported. The running rules go on unless a candidate is swapped in whole.
  const std::string started = NowText();
  for (const auto& r : fe.module.rules) metrics.loaded_since[r.id] = started;
  std::string running_fingerprint = ir::Fingerprint(fe.module);
  auto apply_reload = [&]() {
    std::optional<RuleReloader::Result> r = reloader->Take();
    if (!r) return;
    // Built before the swap of an earlier request was known to the worker: the same rules.
    if (r->candidate && ir::Fingerprint(r->candidate->module) == running_fingerprint) {
      r->candidate.reset();
      r->unchanged = true;
    }
    std::string outcome, detail;
    std::string why;
    const bool swapped = r->candidate && host->Reload(r->candidate->module, std::move(r->native), why);
    if (!swapped && r->candidate) r->refusal = why;  // the swap itself refused (a schema change)
    // Recorded before anything else is said: a reload the audit log cannot hold stops the run.
    if (!deployment.Reloaded(*r, swapped)) write_error = "the audit log " + o.audit + " cannot be written";
    if (swapped) {
      module = &r->candidate->module;
      running_fingerprint = ir::Fingerprint(*module);
      const auto& sum = host->engine().reload_summary();
      detail = DescribeReload(sum);
      NoteSwap(sum, metrics);
      reloader->Running(*module);
      if (checkpoints) checkpoints->SetIdentity(CheckpointIdentity(name, o, *module, options, files));
      reloaded.push_back(std::move(r->candidate));
      outcome = "done";
      ReportReload(name, r->reason, outcome, detail, metrics);
      // The last checkpoint is of the rules before: a restart with the rules now on disk
      // would refuse it. One of the new rules, at once.
      checkpoint_if_due(/*now=*/true);
    } else {
      outcome = r->unchanged ? "unchanged" : "refused";
      detail = r->unchanged ? "the rules compile to those running" : r->refusal;
      ReportReload(name, r->reason, outcome, detail, metrics);
    }
    publish(true);
  };
  // The listener's log lines (connections), written between two records.
  auto log_listener = [&]() {
    if (!listener) return;
    for (const std::string& line : listener->TakeLog()) std::cerr << name << ": " << line << "\n";
  };
  auto after_line = [&]() {
    log_listener();
    if (reloader && reloader->ready()) apply_reload();
    if (!write_error.empty()) return false;  // the checkpoint after a reload failed
    if (!flush_and_check()) return false;
    if (admin) {
      const runtime::Counters& c = host->engine().counters();
      if (c.fired + c.retracted != alerts_before) {
        alerts_before = c.fired + c.retracted;
        metrics.latency.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - line_start).count());
      }
      publish(false);
    }
    return checkpoint_if_due();
  };
  // A quiet feed (serve): what the wall clock made (--clock wall: FileHost), and what is
  // due by time (checkpoints, the admin's figures), still happens.
  auto on_idle = [&]() {
    log_listener();
    if (reloader && reloader->ready()) apply_reload();
    if (!write_error.empty()) return false;  // the checkpoint after a reload failed
    if (!flush_and_check()) return false;
    publish(true);
    return checkpoint_if_due();
  };
  // Refused events quote their text only in a file named for them: stderr ends up in logs.
  runtime::JsonLinesSink sink({alerts, trace, dead, late, dead != &std::cerr, late != &std::cerr, shadow});
  RuleCounts counts(sink, *module);
  runtime::HostOutputs host_outputs{&counts, after_line, on_idle, admin ? std::function<void()>([&] {
                                      line_start = std::chrono::steady_clock::now();
                                    }) : nullptr};
  runtime::FileHost file_host(*module, host_outputs, options);
  host = &file_host;
  file_host.SetFormat(std::move(*input_format));
  file_host.KeepState();
  file_host.SetWallClock(serve && serve->clock == "wall");
  if (checkpoints) {
    // The input is positioned (and checked) before any output is cut back.
    if (checkpoints->present() && !checkpoints->Resume(file_host, in_fd, error)) return refuse(error);
    if (!checkpoints->PrepareOutputs(files, error)) return refuse(error);
    if (checkpoints->present()) {
      resume_base = file_host.input_offset();
      resume_origin = resume_base - checkpoints->file_offset();
      std::cerr << fmt::format("{}: continuing from the checkpoint in {}: {} events were read before it\n", name,
                               o.checkpoint, file_host.lines_read());
    }
  } else {
    for (auto& [_, f] : files) {
      if (!f->Truncate(error)) return refuse(error);
    }
  }
  alerts_before = file_host.engine().counters().fired + file_host.engine().counters().retracted;
  // Recorded before the first event: nothing runs unrecorded.
  if (!deployment.Started(checkpoints && checkpoints->present() ? "continued" : "start")) {
    return refuse("the deployment cannot be recorded in the audit log " + o.audit);
  }
  publish(true);
  CatchStopSignals();
  runtime::ReadFn source;
  if (follow) {
    follow->SetStop(&g_stop_signal);
    follow->SetIdleMs(1000);
    if (mllp || http) {
      follow->SetLimit([&journal](dev_t dev, ino_t ino) { return journal.Committed(dev, ino); }, journal.wake_fd());
    }
    source = follow->AsReadFn();
  } else {
    source = runtime::FdSource(in_fd, &g_stop_signal, serve ? 1000 : 0);
  }
  if (listener) {
    listener->Start();
    std::cerr << fmt::format("{}: MLLP on {}, each message stored in {} before its ACK\n", name, listener->address(),
                             serve->journal);
  }
  if (http) {
    receiver = std::make_unique<FhirReceiver>(journal);
    if (!receiver->Start(receive_host, receive_port, error)) return refuse(error);
    std::cerr << fmt::format("{}: FHIR on http://{}, each POST stored in {} before it is answered\n", name,
                             receiver->address(), serve->journal);
  }
  runtime::HostStats s =
      file_host.Run(source, progress ? std::function<void(const runtime::HostStats&)>(report) : nullptr,
                    checkpoints ? runtime::FileHost::OnStop::Pause : runtime::FileHost::OnStop::Finish);
  // Messages acknowledged from here on are in the journal: the next start reads them.
  if (listener) listener->Stop();
  if (receiver) receiver->Stop();
  log_listener();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The outputs are complete before anything more is said: the summary goes to stderr,
  // and a reader of stderr that stops early (a closed pipe) must not cost the output.
  for (auto& [_, f] : files) {
    if (!f->Flush() && write_error.empty()) write_error = f->ErrorText();
  }
  std::cout.flush();
  if (!std::cout && write_error.empty()) write_error = "cannot write stdout";
  // The last checkpoint: where a stopped run continues, or the mark of a finished one. A
  // run stopped by a failed write keeps the checkpoint before it.
  bool checkpointed = false;
  if (checkpoints && write_error.empty() && s.read_error.empty() && (s.paused || file_host.finished())) {
    checkpointed = write_checkpoint(file_host.finished());
  }
  publish(true);
  if (admin) admin->Stop();
  reloader.reset();
  if (progress) std::cerr << "\n";
  std::cerr << fmt::format(
      "{}: {} events read: {} used, {} dead-lettered, {} late; {} patients; {} alerts fired, {} retracted; "
      "{:.2f} s ({:.0f} events/s)\n",
      name, s.read, s.used, s.dead_lettered, s.late, s.patients, s.fired, s.retracted, secs,
      secs > 0 ? s.read / secs : 0.0);
  std::cerr << counts.Text(name);
  if (s.blank) std::cerr << fmt::format("{}: {} blank lines skipped\n", name, s.blank);
  if (!o.stats.empty()) {
    std::ofstream stats(o.stats, std::ios::binary | std::ios::trunc);
    nlohmann::ordered_json j = counts.Json(name, s);
    // The memory the state holds at the end, by part (Engine::StateUsage).
    const runtime::Engine::StateUse u = host->engine().StateUsage();
    j["state"] = {{"patients", u.patients}, {"bytes", u.total()}};
    for (const auto& [part, bytes] : u.parts()) j["state"][part] = bytes;
    stats << j.dump(1) << "\n";
    stats.flush();
    if (!stats && write_error.empty()) write_error = "cannot write --stats " + o.stats;
  }
  if (receiver) {
    const FhirReceiverStats r = receiver->stats();
    std::cerr << fmt::format("{}: FHIR over HTTP: {} requests: {} stored (200), {} refused (400, 415, 422){}\n", name,
                             r.requests, r.stored, r.refused,
                             r.not_stored ? fmt::format(", {} could not be stored (503: to be sent again)", r.not_stored)
                                          : "");
  }
  if (listener) {
    const runtime::MllpStats m = listener->stats();
    std::cerr << fmt::format("{}: MLLP: {} connections, {} messages: {} accepted (AA), {} errors (AE), {} rejected (AR){}\n",
                             name, m.connections, m.messages, m.accepted, m.errors, m.rejected,
                             (m.not_stored ? fmt::format("; {} could not be stored (AE: to be sent again)", m.not_stored)
                                           : "") +
                                 (m.turned_away ? fmt::format("; {} connections turned away ({} were open)",
                                                              m.turned_away, runtime::kMaxMllpConnections)
                                                : ""));
  }
  if (o.format != "ndjson") {
    std::cerr << fmt::format("{}: {} {} records translated (events read counts their events and refused parts); {} "
                             "parts with nothing a rule reads skipped\n",
                             name, s.records, o.format, s.skipped);
  }
  if (s.held) {
    std::cerr << fmt::format(
        "{}: {} events were held (more than --max-ahead after the stream time); {} of them never corroborated "
        "by another patient's events, dead-lettered\n",
        name, s.held, s.quarantined);
  }
  if (s.implausible_kept) {
    std::cerr << fmt::format("{}: {} values outside their plausible range were kept, as their schema says (`keep`)\n",
                             name, s.implausible_kept);
  }
  if (s.superseded) {
    std::cerr << fmt::format("{}: {} versions of an event arrived after a version recorded later, and changed nothing\n",
                             name, s.superseded);
  }
  if (follow && (follow->rotations() || follow->truncations())) {
    std::cerr << fmt::format("{}: {} was rotated {} times and truncated {} times while followed\n", name,
                             follow->path(), follow->rotations(), follow->truncations());
  }
  backend.Join();
  std::cerr << name << ": " << backend.Describe(s.native, s.native_from_event) << "\n";
  if (checkpoints) {
    std::cerr << fmt::format("{}: {} checkpoints written to {}\n", name, checkpoints->written(), o.checkpoint);
  }
  if (s.interrupted) {
    std::cerr << name << ": stopped by " << (g_stop_signal == SIGTERM ? "SIGTERM" : "SIGINT") << " after event "
              << s.read << "; the rest of the input was not read";
    if (s.unread) std::cerr << " (nor the " << s.unread << " bytes of a line not yet ended)";
    if (checkpointed) {
      std::cerr << "; checkpoint written: the same command continues from there\n";
    } else if (!checkpoints) {
      std::cerr << ", and the points still open were decided as at the end of the input\n";
    } else {
      std::cerr << "; no checkpoint could be written: a restart continues from the one before\n";
    }
  }
  close_input();
  if (!s.read_error.empty()) {
    std::cerr << name << ": error reading " << input_name << ": " << s.read_error
              << " (the summary covers the events before it)\n";
    return kUsage;
  }
  if (!write_error.empty()) {
    std::cerr << name << ": " << write_error;
    if (s.stopped) std::cerr << "; stopped after event " << s.read << ", the rest of the input not read";
    if (alerts_file) std::cerr << "; " << alerts_file->lines() << " alert lines are on " << alerts_file->path();
    std::cerr << " (the counts above are what the engine made)\n";
    return kUsage;
  }
  return kOk;
}

}  // namespace

int Run(const RunOptions& o) { return RunPipeline(o, nullptr); }

int Serve(const ServeOptions& o) {
  if (o.source.rfind("kafka:", 0) == 0) return ServeKafka(o);
  // A receiving source: its format is the one its protocol carries, and a journal is needed.
  for (const auto& [scheme, format] : {std::pair<std::string, std::string>{"mllp:", "hl7v2"}, {"http:", "fhir"}}) {
    if (o.source.rfind(scheme, 0) != 0) continue;
    ServeOptions receiving = o;
    if (receiving.run.format == "ndjson") receiving.run.format = format;
    if (receiving.run.format != format) {
      std::cerr << "cdr serve: --source " << scheme << " carries " << format << ": --format " << o.run.format
                << " is not for it\n";
      return kUsage;
    }
    if (receiving.journal.empty()) {
      std::cerr << "cdr serve: --source " << scheme << " needs --journal FILE: each message is stored there, fsync'd, "
                   "before it is acknowledged, and the rules read it from there\n";
      return kUsage;
    }
    return RunPipeline(receiving.run, &receiving);
  }
  if (!o.journal.empty()) {
    std::cerr << "cdr serve: --journal is for --source mllp:HOST:PORT and http:HOST:PORT\n";
    return kUsage;
  }
  return RunPipeline(o.run, &o);
}

}  // namespace cdr::driver
