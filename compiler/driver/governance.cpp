// compiler/driver/governance.cpp: lifecycle, approvals bound to rule hashes, signatures.
#include "compiler/driver/governance.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

namespace cdr::driver {
namespace fs = std::filesystem;

const char* RuleModeName(RuleMode mode) {
  switch (mode) {
    case RuleMode::Live: return "live";
    case RuleMode::Shadow: return "shadow";
    case RuleMode::Off: return "off";
    case RuleMode::Retired: return "retired";
  }
  return "off";
}

int StatusRank(const std::string& status) {
  if (status == "draft") return 0;
  if (status == "review") return 1;
  if (status == "approved") return 2;
  if (status == "none") return 3;
  return -1;
}

std::set<std::string> Governance::excluded() const {
  std::set<std::string> out;
  for (const RuleGovernance& r : rules) {
    if (r.mode == RuleMode::Off || r.mode == RuleMode::Retired) out.insert(r.id);
  }
  return out;
}

const RuleGovernance* Governance::Find(const std::string& id) const {
  for (const RuleGovernance& r : rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string ApprovalsPath(const std::string& given, const std::vector<std::string>& rule_paths) {
  if (!given.empty()) return given;
  if (rule_paths.empty()) return "approvals.jsonl";
  fs::path first(rule_paths[0]);
  std::error_code ec;
  fs::path dir = fs::is_directory(first, ec) ? first : first.parent_path();
  return (dir / "approvals.jsonl").string();
}

std::string ApprovalStatement(const std::string& rule, const std::string& version, const std::string& hash,
                              const std::string& by, const std::string& role, const std::string& note) {
  return "cdr approval\nrule: " + rule + "\nversion: " + version + "\nhash: " + hash + "\nby: " + by +
         "\nrole: " + role + "\nnote: " + note + "\n";
}

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// A PEM key from a file: private or public; null when it cannot be read.
Pkey ReadKey(const std::string& path, bool is_private) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return nullptr;
  EVP_PKEY* k = is_private ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return Pkey(k);
}

}  // namespace

std::string SignStatement(const std::string& statement, const std::string& key_path, std::string& error) {
  Pkey key = ReadKey(key_path, /*is_private=*/true);
  if (!key) {
    error = "cannot read a PEM private key from " + key_path;
    return "";
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    error = key_path + " is not an Ed25519 key (openssl genpkey -algorithm ed25519 makes one)";
    return "";
  }
  MdCtx ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(statement.data()), statement.size()) != 1) {
    error = "signing with " + key_path + " failed";
    return "";
  }
  std::string b64(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), sig, static_cast<int>(len));
  b64.resize(static_cast<size_t>(n));
  return b64;
}

bool VerifyStatement(const std::string& statement, const std::string& signature, const std::string& key_path,
                     std::string& why) {
  Pkey key = ReadKey(key_path, /*is_private=*/false);
  if (!key) {
    why = "no public key " + key_path;
    return false;
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    why = key_path + " is not an Ed25519 public key";
    return false;
  }
  // An Ed25519 signature is 64 bytes: 88 base64 characters with one pad.
  if (signature.size() != 88) {
    why = "the signature is not an Ed25519 signature in base64";
    return false;
  }
  unsigned char sig[66];
  int n = EVP_DecodeBlock(sig, reinterpret_cast<const unsigned char*>(signature.data()), static_cast<int>(signature.size()));
  if (n != 66) {  // 88 characters decode to 66 bytes, the last two padding
    why = "the signature is not valid base64";
    return false;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), sig, 64, reinterpret_cast<const unsigned char*>(statement.data()), statement.size()) !=
          1) {
    why = "the signature does not verify with " + key_path + ": the entry was changed, or signed by another key";
    return false;
  }
  return true;
}

bool SignableName(const std::string& s) {
  if (s.empty() || s[0] == '.') return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

namespace {

// Whether the approvals held meet the policy; `lacking` says what is missing.
bool Enough(const std::vector<ApprovalUse>& held, const Governance& g, std::string& lacking) {
  std::vector<std::string> missing_roles;
  for (const std::string& role : g.roles) {
    bool found = false;
    for (const ApprovalUse& a : held) found = found || a.role == role;
    if (!found) missing_roles.push_back(role);
  }
  const int have = static_cast<int>(held.size());
  if (have >= g.required && missing_roles.empty()) return true;
  lacking = fmt::format("{} of the {} approval{} its rule set requires", have, g.required, g.required == 1 ? "" : "s");
  for (const std::string& role : missing_roles) lacking += ", none by a " + role;
  if (g.signed_approvals) lacking += " (signed)";
  return false;
}

}  // namespace

Governance Govern(const Frontend& fe, const std::vector<std::string>& rule_paths, const GovernanceOptions& options) {
  Governance g;
  const auto& policy = fe.model.policy;
  g.live = options.live.empty() ? policy.live : options.live;
  g.live_from_command_line = !options.live.empty();
  g.required = policy.approvals;
  g.roles = policy.roles;
  g.signed_approvals = policy.signed_approvals;
  g.policy_ruleset = policy.ruleset;
  g.approvals_path = ApprovalsPath(options.approvals_path, rule_paths);
  g.keys_dir = (fs::path(g.approvals_path).parent_path() / "keys").string();
  const int live_rank = StatusRank(g.live);

  // The approvals on record, by rule and hash; a log that does not verify refuses all.
  LogCheck log = ReadLog(g.approvals_path);
  if (!log.io_error.empty()) {
    g.errors.push_back(log.io_error);
  } else if (!log.ok) {
    g.errors.push_back(fmt::format("the approvals log {} does not verify: entry {} {} (`cdr audit verify {}`)",
                                   g.approvals_path, log.bad_line, log.problem, g.approvals_path));
  }
  g.approvals_head = log.head();
  std::map<std::pair<std::string, std::string>, std::vector<const LogEntry*>> by_rule;
  std::set<std::string> ever_approved;  // rules with an approval of some text
  for (const LogEntry& e : log.entries) {
    if (e.kind != "approval") continue;
    by_rule[{StringField(e.json, "rule"), StringField(e.json, "hash")}].push_back(&e);
    ever_approved.insert(StringField(e.json, "rule"));
  }

  const ir::Module& m = fe.module;
  for (const ir::Rule& rule : m.rules) {
    RuleGovernance r;
    r.id = rule.id;
    r.version = rule.version;
    r.hash = rule.hash;
    r.status = rule.status;
    for (const ir::SignalSlot& slot : rule.slots) {
      const ir::Signal& s = m.signals[static_cast<size_t>(slot.signal)];
      if (s.derived()) r.reads.push_back(m.rules[static_cast<size_t>(s.rule)].id);
      if (s.response) r.reads.push_back(s.name.substr(0, s.name.rfind('.')));  // R.acknowledged: R's alerts
    }
    std::sort(r.reads.begin(), r.reads.end());
    r.reads.erase(std::unique(r.reads.begin(), r.reads.end()), r.reads.end());
    // The approvals of this hash, once per approver (the first), checked.
    std::set<std::string> approvers;
    for (const LogEntry* e : by_rule[{r.id, r.hash}]) {
      ApprovalUse a{StringField(e->json, "by"), StringField(e->json, "role"), e->time, StringField(e->json, "note"), e->hash, false};
      const std::string signature = StringField(e->json, "signature");
      if (!signature.empty()) {
        std::string why;
        const std::string key = (fs::path(g.keys_dir) / (a.by + ".pem")).string();
        if (!SignableName(a.by)) {
          r.not_counted.push_back(fmt::format("{}'s (entry {}): a signed approval's approver must be a name of "
                                              "letters, digits, '.', '_' or '-' (its key is keys/NAME.pem)",
                                              a.by, e->seq));
          continue;
        }
        if (!VerifyStatement(ApprovalStatement(r.id, StringField(e->json, "version"), r.hash, a.by, a.role, a.note), signature,
                             key, why)) {
          r.not_counted.push_back(fmt::format("{}'s (entry {}): {}", a.by, e->seq, why));
          continue;
        }
        a.is_signed = true;
      } else if (g.signed_approvals) {
        r.not_counted.push_back(fmt::format("{}'s (entry {}): not signed, and the rule set requires signed approvals",
                                            a.by, e->seq));
        continue;
      }
      if (!approvers.insert(a.by).second) continue;
      r.approvals.push_back(std::move(a));
    }
    r.approved = Enough(r.approvals, g, r.lacking);

    if (r.status == "retired") {
      r.mode = RuleMode::Retired;
    } else if (r.status == "approved" && r.approved && live_rank <= 2) {
      r.mode = RuleMode::Live;
    } else if (r.status != "approved" && StatusRank(r.status) >= live_rank) {
      r.mode = RuleMode::Live;
    } else if (r.status == "approved" && live_rank <= 2) {
      g.errors.push_back(fmt::format("rule {} {} is `status approved`, but its hash {} holds {}{}", r.id, r.version,
                                     r.hash, r.lacking,
                                     r.approvals.empty() && ever_approved.count(r.id)
                                         ? " (approvals of an earlier text do not count: one character changed voids them)"
                                         : ""));
      r.mode = RuleMode::Off;
    } else {
      r.mode = options.shadow ? RuleMode::Shadow : RuleMode::Off;
      if (r.status == "approved" && !r.approved) {
        g.warnings.push_back(fmt::format("rule {} says `status approved` but its hash holds {}: it is not approved",
                                         r.id, r.lacking));
      }
    }
    g.rules.push_back(std::move(r));
  }

  // A rule that runs reads only rules that run, and a live one only live ones: the lets it
  // reads are computed by the rule that declares them.
  for (const RuleGovernance& r : g.rules) {
    if (r.mode != RuleMode::Live && r.mode != RuleMode::Shadow) continue;
    for (const std::string& producer : r.reads) {
      const RuleGovernance* p = g.Find(producer);
      if (!p) continue;
      if (p->mode == RuleMode::Off || p->mode == RuleMode::Retired) {
        g.errors.push_back(fmt::format("rule {} runs {} but reads {}'s lets or alert responses, and {} does not run ({})",
                                       r.id, RuleModeName(r.mode), p->id, p->id, p->status));
      } else if (r.mode == RuleMode::Live && p->mode == RuleMode::Shadow) {
        g.errors.push_back(fmt::format("rule {} runs live but reads {}'s lets or alert responses, and {} runs in "
                                       "shadow only ({}): its logic would reach clinicians unapproved",
                                       r.id, p->id, p->id, p->status));
      }
    }
  }

  std::vector<std::string> retired, unapproved_live, not_run, shadow, voided;
  for (const RuleGovernance& r : g.rules) {
    if (r.mode == RuleMode::Retired) retired.push_back(r.id);
    if (r.mode == RuleMode::Live && r.status != "approved") unapproved_live.push_back(r.id + " (" + r.status + ")");
    if (r.mode == RuleMode::Off && r.status != "approved") not_run.push_back(r.id + " (" + r.status + ")");
    if (r.mode == RuleMode::Shadow) shadow.push_back(r.id + " (" + r.status + ")");
    for (const std::string& why : r.not_counted) voided.push_back(r.id + ": " + why);
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (!retired.empty()) g.warnings.push_back("retired, not run: " + join(retired));
  if (!unapproved_live.empty()) {
    g.warnings.push_back(fmt::format("running live without approval (live {}{}): {}", g.live,
                                     g.live_from_command_line ? ", from --live" : "", join(unapproved_live)));
  }
  if (!shadow.empty()) g.warnings.push_back("running in shadow (alerts to the shadow output only): " + join(shadow));
  if (!not_run.empty()) {
    g.warnings.push_back(fmt::format("not run: {} (live is {}; --shadow FILE runs them in shadow, --live {} live)",
                                     join(not_run), g.live, g.live == "approved" ? "review" : "draft"));
  }
  for (const std::string& v : voided) g.warnings.push_back("approval not counted: " + v);
  bool any = false;
  for (const RuleGovernance& r : g.rules) any = any || r.mode == RuleMode::Live || r.mode == RuleMode::Shadow;
  if (!any && g.errors.empty() && !g.rules.empty()) {
    g.errors.push_back(fmt::format("no rule would run: none is live (live is {}) and there is no --shadow output", g.live));
  }
  return g;
}

bool GovernOrReport(Frontend& fe, const std::vector<std::string>& rule_paths, const GovernanceOptions& options,
                    const std::string& command, Governance& out) {
  out = Govern(fe, rule_paths, options);
  for (const std::string& w : out.warnings) std::cerr << command << ": " << w << "\n";
  for (const std::string& e : out.errors) std::cerr << command << ": error: " << e << "\n";
  if (!out.errors.empty()) {
    std::cerr << command << ": the rule set is refused (docs/governance.md)\n";
    return false;
  }
  if (!ApplyGovernance(fe, out)) {
    std::cerr << command << ": the rules that run do not compile without those that do not\n";
    return false;
  }
  return true;
}

bool ApplyGovernance(Frontend& fe, const Governance& g) {
  std::set<std::string> excluded = g.excluded();
  if (!excluded.empty()) {
    fe.excluded = std::move(excluded);
    if (!fe.Lower()) return false;
  }
  for (ir::Rule& r : fe.module.rules) {
    const RuleGovernance* rg = g.Find(r.id);
    r.shadow = rg && rg->mode == RuleMode::Shadow;
  }
  return true;
}

nlohmann::ordered_json DeploymentFields(const Governance& g, const std::string& command, const std::string& reason) {
  nlohmann::ordered_json f;
  f["command"] = command;
  f["reason"] = reason;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) f["host"] = host;
  nlohmann::ordered_json policy;
  policy["live"] = g.live;
  policy["live_from_command_line"] = g.live_from_command_line;
  policy["approvals"] = g.required;
  policy["roles"] = g.roles;
  policy["signed"] = g.signed_approvals;
  policy["ruleset"] = g.policy_ruleset;
  f["policy"] = policy;
  f["approvals_log"] = g.approvals_path;
  f["approvals_head"] = g.approvals_head.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(g.approvals_head);
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleGovernance& r : g.rules) {
    nlohmann::ordered_json rj;
    rj["rule"] = r.id;
    rj["version"] = r.version;
    rj["hash"] = r.hash;
    rj["status"] = r.status;
    rj["mode"] = RuleModeName(r.mode);
    nlohmann::ordered_json approvals = nlohmann::ordered_json::array();
    for (const ApprovalUse& a : r.approvals) {
      approvals.push_back({{"by", a.by}, {"role", a.role}, {"time", a.time}, {"signed", a.is_signed}, {"entry", a.entry}});
    }
    rj["approvals"] = approvals;
    rules.push_back(rj);
  }
  f["rules"] = rules;
  return f;
}

bool RecordDeployment(LogWriter* log, const Governance& g, const std::string& command, const std::string& reason) {
  if (!log) return true;
  // The modes of the last deployment on record: a rule that ran there and is retired now
  // is a retirement, recorded on its own.
  std::map<std::string, std::string> before;
  LogCheck check = ReadLog(log->path());
  for (auto e = check.entries.rbegin(); e != check.entries.rend(); ++e) {
    if (e->kind != "deployment") continue;
    auto rules = e->json.find("rules");
    if (rules != e->json.end() && rules->is_array()) {
      for (const auto& r : *rules) {
        if (r.is_object()) before[StringField(r, "rule")] = StringField(r, "mode");
      }
    }
    break;
  }
  for (const RuleGovernance& r : g.rules) {
    auto was = before.find(r.id);
    if (r.mode != RuleMode::Retired || was == before.end() || (was->second != "live" && was->second != "shadow")) {
      continue;
    }
    nlohmann::ordered_json f{{"command", command}, {"rule", r.id}, {"version", r.version}, {"hash", r.hash},
                             {"was", was->second}};
    if (!Audit(log, "retirement", f, command)) return false;
  }
  return Audit(log, "deployment", DeploymentFields(g, command, reason), command);
}

bool Audit(LogWriter* log, const std::string& kind, const nlohmann::ordered_json& fields, const std::string& command) {
  if (!log) return true;
  std::string error;
  if (!log->Append(kind, fields, error)) {
    std::cerr << command << ": cannot record the " << kind << " in the audit log: " << error << "\n";
    return false;
  }
  return true;
}

}  // namespace cdr::driver
