// compiler/driver/reload.cpp: building and checking a candidate rule set (reload.h).
#include "compiler/driver/reload.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "compiler/driver/commands.h"
#include "compiler/driver/schema_diff.h"
#include "compiler/jit/jit.h"

namespace cdr::driver {

std::string DescribeReload(const runtime::Engine::ReloadSummary& sum) {
  auto list = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out.empty() ? std::string("none") : out;
  };
  return "kept " + list(sum.kept) + "; changed " + list(sum.changed) + "; added " + list(sum.added) + "; removed " +
         list(sum.removed);
}

void NoteSwap(const runtime::Engine::ReloadSummary& sum, Metrics& metrics) {
  const std::string now = NowText();
  for (const auto& id : sum.changed) metrics.loaded_since[id] = now;
  for (const auto& id : sum.added) metrics.loaded_since[id] = now;
  for (const auto& id : sum.removed) metrics.loaded_since.erase(id);
}

void ReportReload(const std::string& command, const std::string& reason, const std::string& outcome,
                  const std::string& detail, Metrics& metrics) {
  if (outcome == "done") {
    ++metrics.reloads_done;
    std::cerr << fmt::format("{}: rules reloaded ({}): {}\n", command, reason, detail);
  } else if (outcome == "unchanged") {
    ++metrics.reloads_unchanged;
    std::cerr << fmt::format("{}: reload: nothing to do ({}): {}\n", command, reason, detail);
  } else {
    ++metrics.reloads_refused;
    std::cerr << fmt::format("{}: reload refused ({}): {}; the running rules go on\n", command, reason, detail);
  }
  metrics.last_reload =
      nlohmann::json{{"result", outcome}, {"reason", reason}, {"detail", detail}, {"at", NowText()}}.dump();
}

namespace fs = std::filesystem;

RuleReloader::RuleReloader(Options options, const ir::Module& running)
    : options_(std::move(options)), running_(ir::Fingerprint(running)), running_module_(&running) {}

void RuleReloader::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
}

RuleReloader::~RuleReloader() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (inotify_ >= 0) ::close(inotify_);
}

bool RuleReloader::Watch(std::string& error) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    error = "cannot watch the rules (inotify)";
    return false;
  }
  std::set<std::string> dirs;
  for (const auto& p : options_.paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      dirs.insert(p);
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
        if (it->is_directory(ec)) dirs.insert(it->path().string());
      }
    } else {
      dirs.insert(fs::path(p).parent_path().empty() ? "." : fs::path(p).parent_path().string());
    }
  }
  // The approvals log and the approvers' keys: a new approval can make a rule live.
  const fs::path approvals = ApprovalsPath(options_.governance.approvals_path, options_.paths);
  approvals_name_ = approvals.filename().string();
  dirs.insert(approvals.parent_path().empty() ? "." : approvals.parent_path().string());
  std::error_code ec;
  if (fs::is_directory(approvals.parent_path() / "keys", ec)) dirs.insert((approvals.parent_path() / "keys").string());
  for (const auto& d : dirs) {
    if (::inotify_add_watch(fd, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE) < 0) {
      error = "cannot watch " + d;
      ::close(fd);
      return false;
    }
  }
  inotify_ = fd;
  return true;
}

void RuleReloader::Request(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(reason);
  }
  wake_.notify_all();
}

std::optional<RuleReloader::Result> RuleReloader::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Result> r = std::move(result_);
  result_.reset();
  ready_ = false;
  return r;
}

void RuleReloader::Running(const ir::Module& running) {
  std::string fingerprint = ir::Fingerprint(running);
  std::lock_guard<std::mutex> lock(mu_);
  running_ = std::move(fingerprint);
  running_module_ = &running;
}

void RuleReloader::Work() {
  std::string changed_file;  // a rule, approvals log or key file changed, not yet acted on
  auto last_change = std::chrono::steady_clock::now();
  while (!stop_) {
    std::string reason;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || !requests_.empty(); });
      if (stop_) return;
      if (!requests_.empty() && !result_) {  // one result at a time: the pipeline takes it first
        reason = requests_.front();
        requests_.erase(requests_.begin());
      }
    }
    if (signal_flag_ && *signal_flag_) {
      *signal_flag_ = 0;
      Request("SIGHUP");
    }
    if (inotify_ >= 0) {
      alignas(inotify_event) char buf[4096];
      ssize_t n;
      while ((n = ::read(inotify_, buf, sizeof buf)) > 0) {
        for (char* at = buf; at < buf + n;) {
          auto* e = reinterpret_cast<inotify_event*>(at);
          std::string name = e->len ? e->name : "";
          auto ends = [&name](std::string_view tail) {
            return name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
          };
          if (ends(".cdr") || ends(".pem") || (!approvals_name_.empty() && name == approvals_name_)) {
            changed_file = name;
            last_change = std::chrono::steady_clock::now();
          }
          at += sizeof(inotify_event) + e->len;
        }
      }
      // An editor or a deployment writes several files: act once they are quiet.
      if (!changed_file.empty() &&
          std::chrono::steady_clock::now() - last_change >= std::chrono::milliseconds(options_.quiet_ms)) {
        Request("rules changed: " + changed_file);
        changed_file.clear();
      }
    }
    if (reason.empty()) continue;
    Result r = Build(reason);
    std::lock_guard<std::mutex> lock(mu_);
    result_ = std::move(r);
    ready_ = true;
  }
}

RuleReloader::Result RuleReloader::Build(const std::string& reason) {
  Result r;
  r.reason = reason;
  auto fe = std::make_unique<Frontend>();
  std::string error;
  if (!fe->Compile(options_.paths, error)) {
    r.refusal = error;
    return r;
  }
  if (fe->diags.error_count() > 0) {
    r.refusal = fmt::format("{} errors in the rules", fe->diags.error_count());
    for (const auto& d : fe->diags.diagnostics()) {
      if (d.severity == diag::Severity::Error) {
        r.refusal = fmt::format("{} errors in the rules; the first: {}:{}:{}: {}", fe->diags.error_count(),
                                fe->sources.Get(d.range.file).name(), d.range.line, d.range.column, d.message);
        break;
      }
    }
    return r;
  }
  // The lifecycle and the approvals: a rule set the policy refuses never swaps in, and
  // the rules it does not run are left out before anything is compared or compiled.
  r.governance = Govern(*fe, options_.paths, options_.governance);
  if (!r.governance->errors.empty()) {
    r.refusal = r.governance->errors.size() == 1
                    ? r.governance->errors[0]
                    : fmt::format("{} governance errors; the first: {}", r.governance->errors.size(),
                                  r.governance->errors[0]);
    return r;
  }
  if (!ApplyGovernance(*fe, *r.governance)) {
    r.refusal = "the rules that run do not compile without those that do not";
    return r;
  }
  // A schema change that takes events or values from a signal a running rule reads. (A
  // module that ran stays alive after a swap: the pointer is read under the lock, the
  // comparison made outside it.)
  const ir::Module* running = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = running_module_;
  }
  if (running) {
    size_t breaking = 0;
    const SchemaChange* first = nullptr;
    const std::vector<SchemaChange> changes = DiffSchemas(*running, fe->module);
    for (const SchemaChange& c : changes) {
      if (!c.breaking) continue;
      if (!first) first = &c;
      ++breaking;
    }
    if (first) {
      r.refusal = fmt::format("{} schema changes break running rules; the first: {}: {}", breaking, first->signal,
                              first->what);
      return r;
    }
  }
  if (options_.native) {
    if (auto err = jit::CompileModule(fe->module, options_.opt, r.native)) {
      r.refusal = "the JIT cannot compile the rules: " + *err;
      return r;
    }
  }
  RuleTestResults tests = RunRuleTests(*fe, options_.native ? &r.native : nullptr, /*interp=*/true);
  if (tests.failed) {
    std::string first;
    for (const auto& [pass, text] : tests.lines) {
      if (!pass) {
        first = text.substr(0, text.find('\n'));
        break;
      }
    }
    r.refusal = fmt::format("{} of {} rule tests fail; the first: {}", tests.failed, tests.failed + tests.passed, first);
    return r;
  }
  // Tests run first: a set that compiles to the running rules but fails its (new) tests
  // is refused, not taken as unchanged.
  const std::string fingerprint = ir::Fingerprint(fe->module);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fingerprint == running_) {
      r.unchanged = true;
      return r;
    }
  }
  r.candidate = std::move(fe);
  return r;
}

bool Deployment::Open(Frontend& fe, const RunOptions& o, const std::string& command) {
  command_ = command;
  options_ = GovernanceOptions{o.live, !o.shadow.empty(), o.approvals};
  if (!GovernOrReport(fe, o.rules, options_, command, governance_)) return false;
  if (o.audit.empty()) return true;
  std::string error;
  log_ = LogWriter::Open(o.audit, error);
  if (!log_) {
    std::cerr << command << ": " << error << " (`cdr audit verify " << o.audit << "` names it); refusing to start\n";
    return false;
  }
  return true;
}

bool Deployment::Started(const std::string& reason) {
  return RecordDeployment(log_ ? &*log_ : nullptr, governance_, command_, reason);
}

bool Deployment::Reloaded(const RuleReloader::Result& r, bool swapped) {
  LogWriter* log = log_ ? &*log_ : nullptr;
  if (swapped && r.governance) return RecordDeployment(log, *r.governance, command_, "reload: " + r.reason);
  if (r.unchanged) return true;
  return Audit(log, "reload-refused", {{"command", command_}, {"reason", r.reason}, {"refusal", r.refusal}}, command_);
}

}  // namespace cdr::driver
