// compiler/driver/diff.h: `cdr diff`: what a rule change does on a history. Both rule sets
// run over the same events (or two alert logs are read: production and shadow); the final
// alerts of each (retractions applied) are compared rule by rule (docs/governance.md,
// "Backtests").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cdr::driver {

/// One final alert of one side.
struct DiffAlert {
  std::string id, rule, version, hash, patient, severity, message;
  int64_t time = 0;  // ms since the epoch
  std::string time_text;
  nlohmann::ordered_json values, evidence;
};

/// A row of the changed-alerts table: an alert on one side only, or on both with another
/// severity, message or values.
struct AlertChange {
  enum class Kind { Added, Removed, Changed } kind;
  std::string patient;
  int64_t time = 0;
  const DiffAlert* base = nullptr;
  const DiffAlert* head = nullptr;
};

/// What changed for one rule.
struct RuleDiff {
  std::string rule;
  std::string base_version, head_version, base_hash, head_hash;
  std::string base_status, head_status;  // empty when read from an alert log
  bool in_base = false, in_head = false;
  size_t base_alerts = 0, head_alerts = 0;
  size_t base_patients = 0, head_patients = 0;
  std::vector<std::string> newly_alerted, no_longer_alerted;  // patients
  std::map<std::string, std::pair<size_t, size_t>> by_severity;  // base, head
  std::map<std::string, std::pair<size_t, size_t>> by_day;       // YYYY-MM-DD -> base, head
  // Time to first alert, over patients alerted on both sides: head's first minus base's.
  size_t first_earlier = 0, first_later = 0, first_same = 0;
  std::optional<int64_t> first_shift_median_ms;
  std::vector<AlertChange> changes;  // in patient, time order
  size_t added = 0, removed = 0, changed = 0;
  std::string text_diff;  // unified lines of the rule's canonical text (+ head, - base), empty when equal
  bool same() const {
    return changes.empty() && text_diff.empty() && base_hash == head_hash && base_status == head_status;
  }
};

struct DiffResult {
  std::string base_name, head_name, events_name;
  std::vector<std::string> base_rules, head_rules;  // the paths, for the report
  size_t events_read = 0;
  std::vector<RuleDiff> rules;  // by rule id
  std::vector<DiffAlert> base_alerts, head_alerts;
};

/// The figures as JSON (`cdr diff --json`), as the tests read them.
nlohmann::ordered_json DiffJson(const DiffResult& d);
/// The Markdown summary (a pull-request comment).
std::string DiffMarkdown(const DiffResult& d);
/// The HTML report: one self-contained file (inline SVG and CSS, no script).
std::string DiffHtml(const DiffResult& d);
/// The text summary on stdout.
std::string DiffText(const DiffResult& d);
/// Unified lines of a line diff of two texts (" " same, "-" only in a, "+" only in b),
/// empty when equal.
std::string LineDiff(const std::string& a, const std::string& b);

}  // namespace cdr::driver
