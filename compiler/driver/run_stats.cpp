// compiler/driver/run_stats.cpp: per-rule counts of the alerts of a run.
#include "compiler/driver/run_stats.h"

#include <algorithm>

#include <fmt/format.h>

namespace cdr::driver {

RuleCounts::RuleCounts(runtime::AlertSink& next, const ir::Module& rules) : next_(next) {
  for (const ir::Rule& r : rules.rules) {
    Counts& c = rules_[r.id];
    c.version = r.version;
    c.shadow = r.shadow;
  }
}

int64_t RuleCounts::Counts::final() const {
  int64_t n = 0;
  for (const auto& [_, k] : final_by_severity) n += k;
  return n;
}

void RuleCounts::Alert(const runtime::AlertRecord& alert) {
  Counts& c = rules_[alert.rule->id];
  c.version = alert.rule->version;
  c.shadow = alert.rule->shadow;
  const bool fire = alert.action == runtime::AlertRecord::Action::Fire;
  const int64_t step = fire ? 1 : -1;
  (fire ? c.fired : c.retracted) += 1;
  c.final_by_severity[alert.severity()] += step;
  auto p = c.final_by_patient.find(absl::string_view(alert.patient.data(), alert.patient.size()));
  if (p == c.final_by_patient.end()) p = c.final_by_patient.emplace(std::string(alert.patient), 0).first;
  if ((p->second += step) == 0) c.final_by_patient.erase(p);
  next_.Alert(alert);
}

std::string RuleCounts::Text(const std::string& command) const {
  size_t width = 4;
  for (const auto& [id, _] : rules_) width = std::max(width, id.size() + 9);
  std::string out = fmt::format("{}: {:<{}} {:>8} {:>10} {:>8} {:>9}  final by severity\n", command, "rule", width,
                                "fired", "retracted", "final", "patients");
  for (const auto& [id, c] : rules_) {
    std::string severities;
    for (const auto& [s, n] : c.final_by_severity) {
      if (n) severities += fmt::format("{}{} {}", severities.empty() ? "" : ", ", s, n);
    }
    out += fmt::format("{}: {:<{}} {:>8} {:>10} {:>8} {:>9}  {}\n", command, id + (c.shadow ? " (shadow)" : ""), width,
                       c.fired, c.retracted, c.final(), c.final_by_patient.size(), severities);
  }
  return out;
}

nlohmann::ordered_json RuleCounts::Json(const std::string& command, const runtime::HostStats& s) const {
  nlohmann::ordered_json j;
  j["command"] = command;
  j["events"] = {{"read", s.read}, {"used", s.used}, {"dead_lettered", s.dead_lettered}, {"late", s.late}};
  j["patients"] = s.patients;
  j["alerts"] = {{"fired", s.fired}, {"retracted", s.retracted}};
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const auto& [id, c] : rules_) {
    nlohmann::ordered_json severities = nlohmann::ordered_json::object();
    for (const auto& [sev, n] : c.final_by_severity) {
      if (n) severities[sev] = n;
    }
    rules.push_back({{"rule", id},
                     {"version", c.version},
                     {"shadow", c.shadow},
                     {"fired", c.fired},
                     {"retracted", c.retracted},
                     {"final", c.final()},
                     {"final_by_severity", severities},
                     {"patients", c.final_by_patient.size()}});
  }
  j["rules"] = rules;
  return j;
}

std::string ProgressOfFile(uint64_t offset, uint64_t size, uint64_t base, double seconds) {
  offset = std::min(offset, size);
  if (size == 0 || offset <= base) return "";
  // Bytes read by this process: offset - base, in `seconds`.
  const double left = seconds * static_cast<double>(size - offset) / static_cast<double>(offset - base);
  return fmt::format(", {:.0f}% (about {:.0f} s left)", 100.0 * static_cast<double>(offset) / static_cast<double>(size),
                     left);
}

}  // namespace cdr::driver
