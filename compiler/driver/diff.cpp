// compiler/driver/diff.cpp: `cdr diff`: both rule sets over one history, or two alert logs,
// compared rule by rule.
#include "compiler/driver/diff.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>

#include "compiler/driver/audit_log.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "runtime/line_reader.h"
#include "stdlib/time.h"

namespace cdr::driver {
namespace {

// An alert line (docs/events.md, "Output: alerts") as a DiffAlert; false when it is not one.
bool ParseAlert(const std::string& line, DiffAlert& a, bool& retract) {
  auto j = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || StringField(j, "alert").empty() || StringField(j, "rule").empty()) return false;
  a.id = StringField(j, "alert");
  a.rule = StringField(j, "rule");
  a.version = StringField(j, "version");
  a.hash = StringField(j, "rule_hash");
  a.patient = StringField(j, "patient");
  a.severity = StringField(j, "severity");
  a.message = StringField(j, "message");
  a.time_text = StringField(j, "time");
  auto t = stdlib::ParseTime(a.time_text);
  if (!t) return false;
  a.time = *t;
  if (j.contains("values")) a.values = j["values"];
  if (j.contains("evidence")) a.evidence = j["evidence"];
  retract = StringField(j, "action") == "retract";
  return true;
}

// The final alerts of a run: fires with their retractions applied.
class FinalAlerts : public runtime::AlertSink {
 public:
  void Alert(const runtime::AlertRecord& alert) override {
    line_.clear();
    runtime::AppendAlertJson(line_, alert);
    line_.pop_back();
    DiffAlert a;
    bool retract = false;
    if (!ParseAlert(line_, a, retract)) return;
    if (retract) {
      final_.erase(a.id);
    } else {
      final_[a.id] = std::move(a);
    }
  }
  void DeadLetter(const runtime::Refusal&) override { ++dead_; }
  void Late(const runtime::Refusal&) override { ++late_; }
  std::vector<DiffAlert> Take() {
    std::vector<DiffAlert> out;
    for (auto& [_, a] : final_) out.push_back(std::move(a));
    return out;
  }
  size_t dead() const { return dead_; }

 private:
  std::map<std::string, DiffAlert> final_;
  std::string line_;
  size_t dead_ = 0, late_ = 0;
};

// One side of a diff: its rules' canonical texts, and its final alerts.
struct Side {
  struct RuleInfo {
    std::string version, hash, status;  // status: empty from an alert log
  };
  std::map<std::string, RuleInfo> rules;  // every rule, retired ones too
  std::map<std::string, std::string> texts;                          // id -> canonical text (with status)
  std::vector<DiffAlert> alerts;
  size_t events = 0, dead = 0;
};

// The rule set's rules and texts; false after reporting its errors.
bool LoadRules(const std::vector<std::string>& paths, const std::string& flag, Frontend& fe, Side& side) {
  if (int status = CompileOrReport(fe, paths, ("cdr diff " + flag).c_str()); status != kOk) return false;
  // A retired rule does not run: retiring one shows as all its alerts gone.
  std::set<std::string> retired;
  for (const ir::Rule& r : fe.module.rules) {
    side.rules[r.id] = {r.version, r.hash, r.status};
    if (r.status == "retired") retired.insert(r.id);
  }
  if (!retired.empty()) {
    fe.excluded = retired;
    if (!fe.Lower()) return false;
  }
  for (const ast::File& f : fe.files) {
    for (const ast::Decl& d : f.decls) {
      if (d.rule && side.rules.count(d.rule->name)) side.texts[d.rule->name] = format::FormatRule(*d.rule, true, format::kLineWidth);
    }
  }
  return true;
}

bool RunSide(const Frontend& fe, const DiffOptions& o, const runtime::EngineOptions& options, Side& side) {
  int fd = ::open(o.events.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    std::cerr << "cdr diff: cannot read " << o.events << "\n";
    if (fd >= 0) ::close(fd);
    return false;
  }
  RunOptions ro;
  ro.format = o.format;
  runtime::FormatOptions format_options;
  std::string error;
  auto format = InputFormatOf(ro, format_options, error);
  if (!format) {
    std::cerr << "cdr diff: " << error << "\n";
    ::close(fd);
    return false;
  }
  FinalAlerts sink;
  runtime::HostOutputs outputs{&sink, nullptr, nullptr, nullptr};
  runtime::FileHost host(fe.module, outputs, options);
  host.SetFormat(std::move(*format));
  runtime::HostStats s = host.Run(runtime::FdSource(fd));
  ::close(fd);
  if (!s.read_error.empty()) {
    std::cerr << "cdr diff: error reading " << o.events << ": " << s.read_error << "\n";
    return false;
  }
  side.alerts = sink.Take();
  side.events = s.read;
  side.dead = s.dead_lettered;
  return true;
}

// The final alerts of an alert log (fires and retractions, as `cdr run` writes them).
bool ReadAlerts(const std::string& path, Side& side) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cdr diff: cannot read " << path << "\n";
    return false;
  }
  std::map<std::string, DiffAlert> final;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    DiffAlert a;
    bool retract = false;
    if (!ParseAlert(line, a, retract)) {
      std::cerr << "cdr diff: " << path << ":" << n << ": not an alert line\n";
      return false;
    }
    if (retract) {
      final.erase(a.id);
    } else {
      side.rules.emplace(a.rule, Side::RuleInfo{a.version, a.hash, ""});
      final[a.id] = std::move(a);
    }
  }
  for (auto& [_, a] : final) side.alerts.push_back(std::move(a));
  return true;
}

bool SameContent(const DiffAlert& a, const DiffAlert& b) {
  return a.severity == b.severity && a.message == b.message && a.values == b.values;
}

std::vector<RuleDiff> Compare(const Side& base, const Side& head) {
  using Key = std::pair<std::string, int64_t>;  // patient, time
  std::map<std::string, std::map<Key, const DiffAlert*>> b, h;
  for (const DiffAlert& a : base.alerts) b[a.rule][{a.patient, a.time}] = &a;
  for (const DiffAlert& a : head.alerts) h[a.rule][{a.patient, a.time}] = &a;
  std::set<std::string> ids;
  for (const auto& [id, _] : base.rules) ids.insert(id);
  for (const auto& [id, _] : head.rules) ids.insert(id);
  for (const auto& [id, _] : b) ids.insert(id);
  for (const auto& [id, _] : h) ids.insert(id);
  std::vector<RuleDiff> out;
  for (const std::string& id : ids) {
    RuleDiff d;
    d.rule = id;
    if (auto it = base.rules.find(id); it != base.rules.end()) {
      d.in_base = true;
      d.base_version = it->second.version;
      d.base_hash = it->second.hash;
      d.base_status = it->second.status;
    }
    if (auto it = head.rules.find(id); it != head.rules.end()) {
      d.in_head = true;
      d.head_version = it->second.version;
      d.head_hash = it->second.hash;
      d.head_status = it->second.status;
    }
    const auto& bm = b[id];
    const auto& hm = h[id];
    d.base_alerts = bm.size();
    d.head_alerts = hm.size();
    std::map<std::string, int64_t> first_b, first_h;
    for (const auto& [key, a] : bm) {
      ++d.by_severity[a->severity].first;
      ++d.by_day[a->time_text.substr(0, 10)].first;
      if (!first_b.count(key.first)) first_b[key.first] = key.second;
    }
    for (const auto& [key, a] : hm) {
      ++d.by_severity[a->severity].second;
      ++d.by_day[a->time_text.substr(0, 10)].second;
      if (!first_h.count(key.first)) first_h[key.first] = key.second;
    }
    d.base_patients = first_b.size();
    d.head_patients = first_h.size();
    std::vector<int64_t> shifts;
    for (const auto& [p, t] : first_h) {
      auto it = first_b.find(p);
      if (it == first_b.end()) {
        d.newly_alerted.push_back(p);
        continue;
      }
      int64_t shift = t - it->second;
      shifts.push_back(shift);
      if (shift < 0) ++d.first_earlier;
      if (shift > 0) ++d.first_later;
      if (shift == 0) ++d.first_same;
    }
    for (const auto& [p, _] : first_b) {
      if (!first_h.count(p)) d.no_longer_alerted.push_back(p);
    }
    if (!shifts.empty()) {
      std::sort(shifts.begin(), shifts.end());
      size_t m = shifts.size() / 2;
      d.first_shift_median_ms = shifts.size() % 2 ? shifts[m] : (shifts[m - 1] + shifts[m]) / 2;
    }
    // The changed alerts, merged in (patient, time) order.
    auto bi = bm.begin(), hi = hm.begin();
    while (bi != bm.end() || hi != hm.end()) {
      if (hi == hm.end() || (bi != bm.end() && bi->first < hi->first)) {
        d.changes.push_back({AlertChange::Kind::Removed, bi->first.first, bi->first.second, bi->second, nullptr});
        ++d.removed;
        ++bi;
      } else if (bi == bm.end() || hi->first < bi->first) {
        d.changes.push_back({AlertChange::Kind::Added, hi->first.first, hi->first.second, nullptr, hi->second});
        ++d.added;
        ++hi;
      } else {
        if (!SameContent(*bi->second, *hi->second)) {
          d.changes.push_back({AlertChange::Kind::Changed, bi->first.first, bi->first.second, bi->second, hi->second});
          ++d.changed;
        }
        ++bi;
        ++hi;
      }
    }
    auto bt = base.texts.find(id);
    auto ht = head.texts.find(id);
    if (bt != base.texts.end() || ht != head.texts.end()) {
      d.text_diff = LineDiff(bt == base.texts.end() ? "" : bt->second, ht == head.texts.end() ? "" : ht->second);
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

std::string LineDiff(const std::string& a, const std::string& b) {
  if (a == b) return "";
  auto split = [](const std::string& s) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      lines.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  };
  const std::vector<std::string> x = split(a), y = split(b);
  // The longest common subsequence of lines (rules are short: the table is small). Texts
  // too long for the table are shown as all removed, then all added.
  const size_t n = x.size(), m = y.size();
  if (n * m > (size_t{1} << 22)) {
    std::string out;
    for (const auto& line : x) out += "-" + line + "\n";
    for (const auto& line : y) out += "+" + line + "\n";
    return out;
  }
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  // The edit script, deletions before insertions; then only the lines within three of a
  // change, runs apart separated by "@@".
  std::vector<std::string> lines;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] == y[j]) {
      lines.push_back(" " + x[i++]);
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      lines.push_back("-" + x[i++]);
    } else {
      lines.push_back("+" + y[j++]);
    }
  }
  constexpr size_t kContext = 3;
  std::vector<bool> keep(lines.size(), false);
  for (size_t k = 0; k < lines.size(); ++k) {
    if (lines[k][0] == ' ') continue;
    for (size_t c = k >= kContext ? k - kContext : 0; c < lines.size() && c <= k + kContext; ++c) keep[c] = true;
  }
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (!keep[k]) continue;
    if (k > 0 && !keep[k - 1]) out += "@@\n";
    out += lines[k] + "\n";
  }
  return out;
}

int Diff(const DiffOptions& o) {
  const char* name = "cdr diff";
  const bool base_log = !o.base_alerts.empty(), head_log = !o.head_alerts.empty();
  if ((o.base.empty() && !base_log) || (o.head.empty() && !head_log)) {
    std::cerr << name << ": give --base RULES (or --base-alerts FILE) and --head RULES (or --head-alerts FILE)\n";
    return kUsage;
  }
  if ((!base_log || !head_log) && o.events.empty()) {
    std::cerr << name << ": --events HISTORY is needed to run a rule set (--base or --head without its alerts log)\n";
    return kUsage;
  }
  RunOptions ro;
  ro.allowed_lateness = o.allowed_lateness;
  ro.max_ahead = o.max_ahead;
  std::string error;
  auto options = EngineOptionsOf(ro, error);
  if (!options) {
    std::cerr << name << ": " << error << "\n";
    return kUsage;
  }
  Frontend base_fe, head_fe;
  Side base, head;
  if (!o.base.empty() && !LoadRules(o.base, "--base", base_fe, base)) return kFailed;
  if (!o.head.empty() && !LoadRules(o.head, "--head", head_fe, head)) return kFailed;
  if (base_log) {
    if (!ReadAlerts(o.base_alerts, base)) return kUsage;
  } else if (!RunSide(base_fe, o, *options, base)) {
    return kUsage;
  }
  if (head_log) {
    if (!ReadAlerts(o.head_alerts, head)) return kUsage;
  } else if (!RunSide(head_fe, o, *options, head)) {
    return kUsage;
  }
  DiffResult d;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  d.base_name = base_log ? o.base_alerts : join(o.base);
  d.head_name = head_log ? o.head_alerts : join(o.head);
  d.events_name = o.events;
  d.events_read = std::max(base.events, head.events);
  d.rules = Compare(base, head);
  d.base_alerts = std::move(base.alerts);
  d.head_alerts = std::move(head.alerts);
  // (The changes point into these alerts: a moved vector keeps its elements where they are.)
  std::cout << DiffText(d);
  for (const auto& [flag, path, text] :
       {std::tuple<std::string, std::string, std::string>{"--report", o.report, o.report.empty() ? "" : DiffHtml(d)},
        {"--markdown", o.markdown, o.markdown.empty() ? "" : DiffMarkdown(d)},
        {"--json", o.json, o.json.empty() ? "" : DiffJson(d).dump(1) + "\n"}}) {
    if (path.empty()) continue;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::cerr << name << ": cannot write " << flag << " " << path << "\n";
      return kUsage;
    }
  }
  return kOk;
}

}  // namespace cdr::driver
