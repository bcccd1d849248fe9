// compiler/driver/governance.h: which rules of a rule set run, and how (docs/governance.md).
// A rule's lifecycle status, its rule set's policy (`live`, `approvals`) and the approvals
// recorded for its content hash decide whether it runs live (its alerts routed), in shadow
// (its alerts to the shadow output only), or not at all. A rule counts as approved only
// while its current hash holds the approvals its rule set requires.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/driver/audit_log.h"
#include "compiler/driver/frontend.h"

namespace cdr::driver {

/// How a rule runs in a deployment.
enum class RuleMode { Live, Shadow, Off, Retired };
const char* RuleModeName(RuleMode mode);

/// An approval counted for a rule's current hash.
struct ApprovalUse {
  std::string by, role, time, note;
  std::string entry;  // the hash of its entry in the approvals log
  bool is_signed = false;
};

struct RuleGovernance {
  std::string id, version, hash, status;
  RuleMode mode = RuleMode::Off;
  bool approved = false;                // its hash holds the approvals required
  std::vector<ApprovalUse> approvals;   // those counted
  std::string lacking;                  // what is missing, when not approved
  std::vector<std::string> not_counted;  // approvals of its hash that do not count, and why
  std::vector<std::string> reads;        // the rules whose lets it reads
};

struct GovernanceOptions {
  std::string live;            // --live approved|review|draft|none; empty: the rule set's policy
  bool shadow = false;         // a shadow output exists: rules that are not live run there
  std::string approvals_path;  // --approvals; empty: approvals.jsonl beside the rules
};

struct Governance {
  std::string live;  // the effective threshold
  bool live_from_command_line = false;
  int required = 1;                  // approvals per rule hash
  std::vector<std::string> roles;    // each among the approvers
  bool signed_approvals = false;
  std::string policy_ruleset;        // the rule set declaring the policy, or empty (the default)
  std::string approvals_path, keys_dir;
  std::string approvals_head;  // the approvals log's last entry hash, or empty
  std::vector<RuleGovernance> rules;
  std::vector<std::string> errors;    // each refuses the deployment
  std::vector<std::string> warnings;  // said, not refusing

  /// Rules that do not run (off or retired): left out of the lowered module.
  std::set<std::string> excluded() const;
  const RuleGovernance* Find(const std::string& id) const;
};

/// The rank of a status for `live` (draft 0, review 1, approved 2; none 3), or -1.
int StatusRank(const std::string& status);

/// The approvals log: `given` (--approvals) when not empty, else approvals.jsonl in the
/// directory of the first rules path (itself when a directory).
std::string ApprovalsPath(const std::string& given, const std::vector<std::string>& rule_paths);

/// The statement an approver signs (Ed25519): the rule, its version and hash, who, role, note.
std::string ApprovalStatement(const std::string& rule, const std::string& version, const std::string& hash,
                              const std::string& by, const std::string& role, const std::string& note);
/// Signs a statement with a PEM private key (Ed25519): base64, or empty with the reason.
std::string SignStatement(const std::string& statement, const std::string& key_path, std::string& error);
/// Whether `signature` (base64) is `by`'s on `statement`, by the public key keys/BY.pem.
bool VerifyStatement(const std::string& statement, const std::string& signature, const std::string& key_path,
                     std::string& why);

/// Whether an approver's name can name its key file (keys/NAME.pem): letters, digits,
/// '.', '_', '-', not starting with '.'.
bool SignableName(const std::string& name);

/// Decides how each rule of a compiled rule set runs.
Governance Govern(const Frontend& fe, const std::vector<std::string>& rule_paths, const GovernanceOptions& options);

/// Makes a compiled rule set what `g` decided: the rules that do not run left out (the
/// module lowered again), those in shadow marked. False when the rules that run do not
/// compile without the others.
bool ApplyGovernance(Frontend& fe, const Governance& g);

/// Governs a compiled rule set for `command` (run, serve): reports the errors (false:
/// refused) and warnings on stderr, then applies the decision (ApplyGovernance).
bool GovernOrReport(Frontend& fe, const std::vector<std::string>& rule_paths, const GovernanceOptions& options,
                    const std::string& command, Governance& out);

/// A deployment's audit entry fields: the command, why, the policy, every rule (id,
/// version, hash, status, mode, the approvals counted).
nlohmann::ordered_json DeploymentFields(const Governance& g, const std::string& command, const std::string& reason);

/// Records a deployment in the audit log (when `log` is set): first a `retirement` for
/// each rule that ran in the last deployment on record and is retired now, then the
/// `deployment`. False, said on stderr, when it cannot be written.
bool RecordDeployment(LogWriter* log, const Governance& g, const std::string& command, const std::string& reason);

/// Appends a governance entry to an audit log (when `log` is set); false with the reason
/// on stderr (`command: ...`).
bool Audit(LogWriter* log, const std::string& kind, const nlohmann::ordered_json& fields, const std::string& command);

}  // namespace cdr::driver
