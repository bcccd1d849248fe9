// compiler/driver/run_stats.h: the per-rule counts of a run (`cdr run` and `cdr serve`'s
// closing summary, `--stats FILE`): alerts fired and retracted, the final alerts (fired
// minus retracted) by severity, and the patients with a final alert.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <nlohmann/json.hpp>

#include "compiler/ir/ir.h"
#include "runtime/file_host.h"
#include "runtime/sink.h"

namespace cdr::driver {

/// Counts the alerts that pass through it, per rule, and hands every record on to `next`.
class RuleCounts : public runtime::AlertSink {
 public:
  /// `rules`: the rules loaded at the start, listed even when they never alert.
  RuleCounts(runtime::AlertSink& next, const ir::Module& rules);
  void Alert(const runtime::AlertRecord& alert) override;
  bool wants_trace() const override { return next_.wants_trace(); }
  void Trace(const runtime::TraceRecord& record) override { next_.Trace(record); }
  void DeadLetter(const runtime::Refusal& refusal) override { next_.DeadLetter(refusal); }
  void Late(const runtime::Refusal& refusal) override { next_.Late(refusal); }

  /// The table of the closing summary, one line per rule, each starting with `command: `.
  std::string Text(const std::string& command) const;
  /// Everything as JSON (`--stats`): the run's figures and the rules'.
  nlohmann::ordered_json Json(const std::string& command, const runtime::HostStats& s) const;

 private:
  struct Counts {
    std::string version;
    bool shadow = false;
    uint64_t fired = 0, retracted = 0;
    std::map<std::string, int64_t> final_by_severity;
    // Patients with none left are erased; hashed, found by the alert's view of the id (a
    // tree of strings cost an id built and a dozen comparisons per alert).
    absl::flat_hash_map<std::string, int64_t> final_by_patient;
    int64_t final() const;
  };
  runtime::AlertSink& next_;
  std::map<std::string, Counts> rules_;
};

/// The progress line's share of a file of `size` bytes: ", 40% (about 15 s left)" when
/// `offset` bytes of it are read, `base` of them before this process started (a restored
/// checkpoint), in `seconds`; the time left at this process's pace so far. Empty when the
/// size is unknown (a pipe) or nothing was read yet.
std::string ProgressOfFile(uint64_t offset, uint64_t size, uint64_t base, double seconds);

}  // namespace cdr::driver
