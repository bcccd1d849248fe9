// compiler/driver/reload.h: hot reload of `cdr serve`'s rules. A request (SIGHUP, a
// change in a rules directory seen by inotify, POST /reload) makes a worker thread build a
// candidate rule set: compiled and linted (any error refuses it), its rule tests run on
// the interpreter and on native code (any failure refuses it), compiled by the JIT. The
// pipeline thread takes the result between two events: it swaps a candidate in
// (FileHost::Reload) or reports the refusal. The running rules are never replaced by a
// refused set (docs/operations.md, "Reloading rules").
#pragma once

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compiler/driver/admin.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/driver/governance.h"
#include "runtime/engine.h"
#include "runtime/interpreter.h"

namespace cdr::driver {

/// "kept A, B; changed C; added none; removed D": what a swap did, for the log.
std::string DescribeReload(const runtime::Engine::ReloadSummary& summary);

/// After a swap: the rules changed or added are loaded since now, those removed are gone
/// (the admin endpoint's GET /rules).
void NoteSwap(const runtime::Engine::ReloadSummary& summary, Metrics& metrics);

/// Reports what a reload request came to (`outcome`: "done", "unchanged" or "refused";
/// `detail`: DescribeReload's, or why): one line on stderr (`command: ...`), and the
/// counts and last outcome the admin endpoint shows.
void ReportReload(const std::string& command, const std::string& reason, const std::string& outcome,
                  const std::string& detail, Metrics& metrics);

class RuleReloader {
 public:
  struct Options {
    std::vector<std::string> paths;  // --rules
    bool native = true;              // compile and test on native code (not with --engine interp)
    int opt = 2;
    int quiet_ms = 300;  // a change in a rules directory is acted on after this long without another
    GovernanceOptions governance;  // how a candidate's rules run (governance.h)
  };
  /// What a request came to.
  struct Result {
    std::string reason;  // what asked: "SIGHUP", "POST /reload", "rules changed: FILE"
    // A candidate to swap in; null when refused (`refusal` says why) or unchanged.
    std::unique_ptr<Frontend> candidate;
    std::vector<std::vector<runtime::NativeBlock>> native;
    std::string refusal;
    bool unchanged = false;  // the rules compile to what runs now
    std::optional<Governance> governance;  // how the candidate's rules run, once decided
  };

  /// `running`: the module that runs now, whose schemas a candidate may not break
  /// (schema_diff.h). It, and every module passed to Running, must outlive the reloader:
  /// a build under way may still compare against it after a swap.
  RuleReloader(Options options, const ir::Module& running);
  ~RuleReloader();
  /// Watches the directories of the rule paths and of the approvals log (inotify): a
  /// change to a .cdr file, the approvals log or a key (.pem) asks for a reload. Before
  /// Start. False, with the reason, when it cannot; requests still work.
  bool Watch(std::string& error);
  /// `*flag` set (by a signal handler) asks for a reload; the worker looks at it often.
  /// Before Start.
  void RequestOn(volatile sig_atomic_t* flag) { signal_flag_ = flag; }
  /// Starts the worker thread.
  void Start();
  /// Asks for a reload (any thread).
  void Request(const std::string& reason);
  /// The result of a request, once ready (the pipeline thread, between two events).
  std::optional<Result> Take();
  /// Whether a result waits (an acquire load: cheap on the per-event path).
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  /// The rules that run now changed (after a swap).
  void Running(const ir::Module& running);

 private:
  void Work();
  Result Build(const std::string& reason);

  Options options_;
  std::string running_;                         // the running module's fingerprint, under mu_
  const ir::Module* running_module_ = nullptr;  // under mu_
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::string> requests_;  // under mu_
  std::optional<Result> result_;       // under mu_
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  volatile sig_atomic_t* signal_flag_ = nullptr;
  std::string approvals_name_;  // the approvals log's file name: a change to it asks for a reload
  int inotify_ = -1;
  std::thread thread_;
};

/// The governance of a running pipeline (`cdr run`, `cdr serve`): how its rules run
/// (governance.h) and the audit log its deployments, refused reloads and retirements are
/// recorded in (docs/governance.md).
class Deployment {
 public:
  /// Governs the compiled rules (refusals and warnings said on stderr) and opens the audit
  /// log, which must verify. False: refused (exit 1).
  bool Open(Frontend& fe, const RunOptions& o, const std::string& command);
  const GovernanceOptions& options() const { return options_; }
  /// Records the start (before the first event). False: the log cannot be written.
  bool Started(const std::string& reason);
  /// Records a reload's outcome: the new deployment when swapped in, else the refusal
  /// (nothing for an unchanged set). False: the log cannot be written.
  bool Reloaded(const RuleReloader::Result& r, bool swapped);

 private:
  std::string command_;
  GovernanceOptions options_;
  Governance governance_;
  std::optional<LogWriter> log_;
};

}  // namespace cdr::driver
