// compiler/driver/governance_cmd.cpp: `cdr approve`, `cdr approvals` and `cdr audit
// verify|show|which` (docs/governance.md).
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "compiler/driver/audit_log.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/governance.h"
#include "compiler/sema/types.h"

namespace cdr::driver {
namespace {

// "sha256:54ee9f0a1b2c": enough of a hash to tell rules apart in a table.
std::string Short(const std::string& hash) { return hash.substr(0, 19); }

std::string ApprovalsText(const RuleGovernance& r, int required) {
  std::string s = fmt::format("{}/{}", r.approvals.size(), required);
  for (size_t i = 0; i < r.approvals.size(); ++i) {
    const ApprovalUse& a = r.approvals[i];
    s += fmt::format("{}{} ({}{})", i == 0 ? ": " : ", ", a.by, a.role, a.is_signed ? ", signed" : "");
  }
  return s;
}

}  // namespace

int Approve(const ApproveOptions& o) {
  const char* name = "cdr approve";
  Frontend fe;
  if (int status = CompileOrReport(fe, o.rules, name); status != kOk) return status;
  const ir::Rule* rule = nullptr;
  std::vector<std::string> ids;
  for (const ir::Rule& r : fe.module.rules) {
    ids.push_back(r.id);
    if (r.id == o.rule) rule = &r;
  }
  if (!rule) {
    std::string sug = sema::Suggest(o.rule, ids);
    std::cerr << name << ": no rule " << o.rule << " in the rule set" << (sug.empty() ? "" : " (did you mean " + sug + "?)")
              << "\n";
    return kFailed;
  }
  if (!o.hash.empty() && o.hash != rule->hash) {
    std::cerr << fmt::format("{}: rule {} is now {}, not the {} you reviewed: it changed since; review it again\n", name,
                             rule->id, rule->hash, o.hash);
    return kFailed;
  }
  if (rule->status == "retired") {
    std::cerr << name << ": rule " << rule->id << " is retired: there is nothing to approve\n";
    return kFailed;
  }
  for (const std::string* field : {&o.by, &o.role}) {
    if (field->find_first_not_of(" \t") == std::string::npos) {
      std::cerr << name << ": --by and --role cannot be empty\n";
      return kUsage;
    }
  }
  const std::string path = ApprovalsPath(o.approvals, o.rules);
  std::string error;
  auto log = LogWriter::Open(path, error);
  std::optional<LogWriter> audit;
  if (log && !o.audit.empty()) audit = LogWriter::Open(o.audit, error);
  if (!log || (!o.audit.empty() && !audit)) {
    std::cerr << name << ": " << error << "; nothing was recorded\n";
    return kFailed;
  }
  // Once per approver and hash: a second approval by someone whose approval counts adds
  // nothing (one that does not count, unsigned or badly signed, may be followed by one that does).
  {
    Governance before = Govern(fe, o.rules, GovernanceOptions{"", false, path});
    if (const RuleGovernance* rg = before.Find(rule->id)) {
      for (const ApprovalUse& a : rg->approvals) {
        if (a.by != o.by) continue;
        std::cerr << fmt::format("{}: {} already approved {} {} ({}, {})\n", name, o.by, rule->id, rule->hash, a.time,
                                 a.entry);
        return kOk;
      }
    }
  }
  nlohmann::ordered_json f{{"rule", rule->id}, {"version", rule->version}, {"hash", rule->hash},
                           {"by", o.by},       {"role", o.role},         {"note", o.note}};
  if (!o.key.empty()) {
    if (!SignableName(o.by)) {
      std::cerr << name << ": --by " << o.by << ": a signed approval's approver is a name of letters, digits, '.', '_' "
                << "or '-' (the public key is keys/NAME.pem)\n";
      return kUsage;
    }
    const std::string statement = ApprovalStatement(rule->id, rule->version, rule->hash, o.by, o.role, o.note);
    std::string signature = SignStatement(statement, o.key, error);
    if (signature.empty()) {
      std::cerr << name << ": " << error << "; nothing was recorded\n";
      return kUsage;
    }
    f["signature"] = signature;
  }
  auto hash = log->Append("approval", f, error);
  if (!hash) {
    std::cerr << name << ": " << error << "\n";
    return kUsage;
  }
  if (audit) {
    f["approvals_log"] = path;
    f["approvals_entry"] = *hash;
    if (!audit->Append("approval", f, error)) {
      std::cerr << name << ": recorded in " << path << " but not in the audit log: " << error << "\n";
      return kUsage;
    }
  }
  Governance g = Govern(fe, o.rules, GovernanceOptions{"", false, path});
  const RuleGovernance* rg = g.Find(rule->id);
  std::cout << fmt::format("{}: recorded in {}: {} approved {} {} {} as {}\n", name, path, o.by, rule->id,
                           rule->version, rule->hash, o.role);
  if (rg) {
    std::cout << fmt::format("{}: {} now holds {}{}\n", name, rule->id, ApprovalsText(*rg, g.required),
                             rg->approved ? " (approved)" : "; not approved yet: " + rg->lacking);
    for (const std::string& why : rg->not_counted) std::cout << name << ": not counted: " << why << "\n";
  }
  return kOk;
}

int Plan(const PlanOptions& o) {
  const char* name = "cdr approvals";
  Frontend fe;
  if (int status = CompileOrReport(fe, o.rules, name); status != kOk) return status;
  Governance g = Govern(fe, o.rules, GovernanceOptions{o.live, o.shadow, o.approvals});
  if (o.format == "json") {
    nlohmann::ordered_json j = DeploymentFields(g, name, "plan");
    j["errors"] = g.errors;
    j["warnings"] = g.warnings;
    std::cout << j.dump(2) << "\n";
    return g.errors.empty() ? kOk : kFailed;
  }
  std::string roles;
  for (const auto& r : g.roles) roles += (roles.empty() ? ", including a " : " and a ") + r;
  std::cout << fmt::format("policy{}: live {}{}; {} approval{} per rule hash{}{} (approvals log {})\n",
                           g.policy_ruleset.empty() ? " (the default)" : " of rule set " + g.policy_ruleset, g.live,
                           g.live_from_command_line ? " (--live)" : "", g.required, g.required == 1 ? "" : "s", roles,
                           g.signed_approvals ? ", signed" : "", g.approvals_path);
  std::cout << fmt::format("{:<28} {:<9} {:<9} {:<20} {:<8} {}\n", "rule", "version", "status", "hash", "runs",
                           "approvals");
  for (const RuleGovernance& r : g.rules) {
    std::cout << fmt::format("{:<28} {:<9} {:<9} {:<20} {:<8} {}\n", r.id, r.version, r.status, Short(r.hash),
                             RuleModeName(r.mode), ApprovalsText(r, g.required));
  }
  for (const std::string& w : g.warnings) std::cout << "warning: " << w << "\n";
  for (const std::string& e : g.errors) std::cout << "error: " << e << "\n";
  return g.errors.empty() ? kOk : kFailed;
}

int AuditVerify(const AuditOptions& o) {
  LogCheck check = ReadLog(o.log);
  if (check.missing) {
    std::cerr << "cdr audit verify: no log " << o.log << "\n";
    return kUsage;
  }
  if (!check.io_error.empty()) {
    std::cerr << "cdr audit verify: " << check.io_error << "\n";
    return kUsage;
  }
  if (!check.ok) {
    std::cout << fmt::format("{}: entry {} (line {}) {}; the {} entries before it verify\n", o.log, check.bad_line,
                             check.bad_line, check.problem, check.entries.size());
    return kFailed;
  }
  if (!o.head.empty()) {
    size_t at = 0;
    while (at < check.entries.size() && check.entries[at].hash != o.head) ++at;
    if (at == check.entries.size()) {
      std::cout << fmt::format("{}: no entry has the hash {}: entries were deleted from its end, or the log was "
                               "rewritten ({} entries verify among themselves)\n",
                               o.log, o.head, check.entries.size());
      return kFailed;
    }
    std::cout << fmt::format("{}: {} entries verify; the head given is entry {}, {} entries after it\n", o.log,
                             check.entries.size(), at + 1, check.entries.size() - at - 1);
  } else {
    std::cout << fmt::format("{}: {} entries verify\n", o.log, check.entries.size());
  }
  if (!check.entries.empty()) std::cout << "head: " << check.head() << "\n";
  return kOk;
}

namespace {

// One entry in a line or a few (`cdr audit show`).
std::string ShowEntry(const LogEntry& e) {
  const nlohmann::json& j = e.json;
  std::string head = fmt::format("#{} {} {}", e.seq, e.time, e.kind);
  if (e.kind == "approval") {
    return fmt::format("{}: {} {} {} by {} ({}){}{}\n", head, StringField(j, "rule"), StringField(j, "version"), Short(StringField(j, "hash")),
                       StringField(j, "by"), StringField(j, "role"), StringField(j, "signature").empty() ? "" : ", signed",
                       StringField(j, "note").empty() ? "" : ": " + StringField(j, "note"));
  }
  if (e.kind == "deployment") {
    std::string out = fmt::format("{}: {} ({}){}", head, StringField(j, "command"), StringField(j, "reason"),
                                  StringField(j, "host").empty() ? "" : " on " + StringField(j, "host"));
    if (auto p = j.find("policy"); p != j.end() && p->is_object()) out += ", live " + StringField(*p, "live");
    out += "\n";
    if (auto rules = j.find("rules"); rules != j.end() && rules->is_array()) {
      for (const auto& r : *rules) {
        if (!r.is_object()) continue;
        std::string approvals;
        if (auto a = r.find("approvals"); a != r.end() && a->is_array()) {
          for (const auto& x : *a) {
            if (x.is_object()) approvals += (approvals.empty() ? "" : ", ") + StringField(x, "by") + " (" + StringField(x, "role") + ")";
          }
        }
        out += fmt::format("    {} {} {} {} {}{}\n", StringField(r, "rule"), StringField(r, "version"), Short(StringField(r, "hash")),
                           StringField(r, "status"), StringField(r, "mode"), approvals.empty() ? "" : ", approved by " + approvals);
      }
    }
    return out;
  }
  if (e.kind == "reload-refused") {
    return fmt::format("{}: {} ({}): {}\n", head, StringField(j, "command"), StringField(j, "reason"), StringField(j, "refusal"));
  }
  if (e.kind == "retirement") {
    return fmt::format("{}: {} {} {} (was {})\n", head, StringField(j, "rule"), StringField(j, "version"), Short(StringField(j, "hash")),
                       StringField(j, "was"));
  }
  return head + ": " + e.line + "\n";
}

// Reads a log for show/which: nullopt (said why) when it is missing or unreadable.
std::optional<LogCheck> ReadForCommand(const std::string& path, const char* name) {
  LogCheck check = ReadLog(path);
  if (check.missing || !check.io_error.empty()) {
    std::cerr << name << ": " << (check.missing ? "no log " + path : check.io_error) << "\n";
    return std::nullopt;
  }
  return check;
}

}  // namespace

int AuditShow(const AuditOptions& o) {
  auto check = ReadForCommand(o.log, "cdr audit show");
  if (!check) return kUsage;
  for (const LogEntry& e : check->entries) {
    if (o.kind.empty() || e.kind == o.kind) std::cout << ShowEntry(e);
  }
  if (!check->ok) {
    std::cout << fmt::format("entry {} (line {}) {}: the log does not verify from there\n", check->bad_line,
                             check->bad_line, check->problem);
    return kFailed;
  }
  return kOk;
}

int AuditWhich(const AuditOptions& o) {
  const char* name = "cdr audit which";
  std::string hash = o.query;
  if (o.query.rfind("sha256:", 0) != 0) {
    // An alert id: its alert, in the alerts file, gives the rule hash.
    if (o.alerts.empty()) {
      std::cerr << name << ": " << o.query << " is not a rule hash (sha256:...); an alert id needs --alerts FILE\n";
      return kUsage;
    }
    std::ifstream in(o.alerts);
    if (!in) {
      std::cerr << name << ": cannot read " << o.alerts << "\n";
      return kUsage;
    }
    std::string line;
    hash.clear();
    while (std::getline(in, line)) {
      if (line.find(o.query) == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || StringField(j, "alert") != o.query) continue;
      hash = StringField(j, "rule_hash");
      std::cout << fmt::format("alert {}: {} {} for {} at {}, {}{}\n", o.query, StringField(j, "rule"), StringField(j, "version"),
                               StringField(j, "patient"), StringField(j, "time"), StringField(j, "severity"),
                               j.value("shadow", false) ? " (shadow)" : "");
      break;
    }
    if (hash.empty()) {
      std::cerr << name << ": no alert " << o.query << " in " << o.alerts << "\n";
      return kFailed;
    }
  }
  auto check = ReadForCommand(o.log, name);
  if (!check) return kUsage;
  if (!check->ok) {
    std::cerr << fmt::format("{}: {} does not verify: entry {} {}; what it says cannot be trusted\n", name, o.log,
                             check->bad_line, check->problem);
    return kFailed;
  }
  std::cout << "rule hash " << hash << "\n";
  size_t found = 0;
  for (const LogEntry& e : check->entries) {
    if (e.kind != "deployment") continue;
    auto rules = e.json.find("rules");
    if (rules == e.json.end() || !rules->is_array()) continue;
    for (const auto& r : *rules) {
      if (!r.is_object() || StringField(r, "hash") != hash) continue;
      const std::string mode = StringField(r, "mode");
      if (mode != "live" && mode != "shadow") continue;
      ++found;
      std::cout << fmt::format("deployment #{} {} {} ({}){}: {} {} ran {} ({}); entry {}\n", e.seq, e.time,
                               StringField(e.json, "command"), StringField(e.json, "reason"),
                               StringField(e.json, "host").empty() ? "" : " on " + StringField(e.json, "host"), StringField(r, "rule"),
                               StringField(r, "version"), mode, StringField(r, "status"), e.hash);
      if (auto a = r.find("approvals"); a != r.end() && a->is_array()) {
        if (a->empty()) std::cout << "  approvals: none (it ran under --live or the rule set's `live`)\n";
        for (const auto& x : *a) {
          if (!x.is_object()) continue;
          std::cout << fmt::format("  approved by {} ({}) at {}{}; entry {}\n", StringField(x, "by"), StringField(x, "role"),
                                   StringField(x, "time"), x.value("signed", false) ? ", signed" : "", StringField(x, "entry"));
        }
      }
    }
  }
  if (!o.approvals.empty()) {
    auto approvals = ReadForCommand(o.approvals, name);
    if (!approvals) return kUsage;
    for (const LogEntry& e : approvals->entries) {
      if (e.kind == "approval" && StringField(e.json, "hash") == hash) std::cout << "approvals log: " << ShowEntry(e);
    }
  }
  if (found == 0) {
    std::cout << "no deployment on record ran this hash\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace cdr::driver
