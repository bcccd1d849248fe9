// compiler/sema/checker.h: the checker's shared context, internal to compiler/sema. One
// Checker walks every schema, rule set, rule and test; its member functions are defined by
// construct: check.cpp (the walk and shared helpers), check_decls.cpp (schemas, rule sets,
// rules and their metadata), check_exprs.cpp (names, operators, conditionals),
// check_calls.cpp (functions and aggregates), check_bands.cpp (band tables and their
// totality), check_tests.cpp (rule tests). Errors are collected, never thrown; an
// expression in error gets the Error type so one mistake does not cascade.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/lint.h"
#include "compiler/sema/types.h"
#include "stdlib/functions.h"

namespace cdr::sema::checker {

using ast::Expr;
using ast::ExprKind;
using diag::Msg;
using O = ast::Operator;
using source::SourceRange;
using stdlib::Decimal;
using stdlib::kMaxInteger;
using stdlib::kMinInteger;

using stdlib::Aggregate;
using stdlib::Function;
using stdlib::FunctionInfo;

// Temporal words of CQL quantities, as UCUM units (`hours` is `h`).
std::string TemporalUnit(const std::string& word);
// A semantic version (`1.0.0`, `2.1.0-rc.1`).
bool IsSemver(std::string_view v);

inline const std::set<std::string> kSeverities = {"low", "medium", "high", "critical"};
inline const std::set<std::string> kStatuses = {"draft", "review", "approved", "retired"};

// The end of a range, as an empty range (where a fix-it inserts).
inline SourceRange Point(const SourceRange& r) {
  SourceRange p = r;
  p.line = r.end_line;
  p.column = r.end_column;
  return p;
}

// A bound of a band row (`<= 8`) at its raw value, for the boundary convention.
struct BandBound {
  const ast::BandRow* row;
  int64_t raw;
  ast::Operator op;
  std::string text;
};

// A let of the rule being checked.
struct LetInfo {
  const ast::RuleItem* item;
  ExprInfo info;
  bool used = false;
};

class Checker {
 public:
  Checker(const std::vector<const ast::File*>& files, diag::DiagnosticEngine& diags)
      : files_(files), diags_(diags) {}

  // Checks everything, in order: schemas, rule sets, rules (each after the rules it
  // reads), tests.
  Model Run();

 private:
  // ---- helpers ------------------------------------------------------------

  template <Msg M>
  diag::Diagnostic* Error(const SourceRange& r, auto&&... args) {
    if (!allowances_.empty() && Allowed(diag::detail::MsgTraits<M>::kKind, r)) return nullptr;
    return diags_.Emit<M>(r, std::forward<decltype(args)>(args)...);
  }

  // `allow FINDING "reason"` of the rule being checked: the finding is not reported inside
  // the item below it.
  struct Allowance {
    diag::Kind kind;
    const ast::RuleItem* allow;
    const ast::RuleItem* target;
    bool used = false;
  };
  std::vector<Allowance> allowances_;
  bool Allowed(diag::Kind kind, const SourceRange& r);
  void Allowances(const ast::Rule& r);

  static void AddNote(diag::Diagnostic* d, const SourceRange& r, std::string msg) {
    if (d) d->notes.push_back(diag::Note{r, std::move(msg)});
  }

  // "did you mean" for a misspelt name: a note and a fix-it that replaces `r` with the
  // closest candidate. False when no candidate is close.
  static bool DidYouMean(diag::Diagnostic* d, const std::string& name, const SourceRange& r,
                         const std::vector<std::string>& candidates);

  template <typename Map>
  static std::vector<std::string> Keys(const Map& m) {
    std::vector<std::string> out;
    for (const auto& [k, _] : m) out.push_back(k);
    return out;
  }

  std::optional<stdlib::Unit> Unit(const std::string& text, const SourceRange& r);

  // Records a resolved name for the tools (Model::symbols).
  void Record(sema::Symbol::Kind kind, const std::string& name, const SourceRange& use, const SourceRange& decl) {
    sema::Symbol& s = model_.symbols.emplace_back();
    s.kind = kind, s.name = name, s.use = use, s.decl = decl;
  }
  void RecordSignal(const std::string& name, const SourceRange& use, const SignalInfo* info);
  void RecordLet(const ast::Rule& rule, const ast::RuleItem& let, const SourceRange& use);

  std::optional<Decimal> Number(const std::string& text, const SourceRange& r, bool negated = false);

  // ---- schemas -------------------------------------------------------------

  void Schema(const ast::Schema& s);

  Type ValueType(const ast::SignalDecl& sig, const std::set<std::string>& valuesets);

  // ---- rule sets -----------------------------------------------------------

  std::optional<Decimal> DurationSeconds(const Expr& e, const ExprInfo& info, const char* what);

  void Ruleset(const ast::Ruleset& rs);
  void RulesetPolicy(const ast::Ruleset& rs);
  void KnownStatus(const std::string& status, const SourceRange& range);

  // ---- rules ---------------------------------------------------------------

  struct Scope {
    std::map<std::string, const SignalInfo*> signals;
    std::map<std::string, LetInfo>* lets = nullptr;
    std::vector<std::string> schema_names;
    bool in_sustained = false;
  };

  void Rule(const ast::Rule& r);
  void RuleMetadata(const ast::Rule& r);
  void Uses(const ast::RuleItem& it, Scope& scope);
  void Let(const ast::Rule& r, const ast::RuleItem& it, Scope& scope);
  void When(const ast::Rule& r, const ast::RuleItem& it, Scope& scope);

  // Checks `{name}` references of an alert message; marks those lets used.
  void Message(const ast::Rule& r, const ast::RuleItem& it, std::map<std::string, LetInfo>& lets);

  // ---- derived signals: one rule's `let` read by another as `rule.let` ----------

  // The `rule.let` names an expression reads, with where they are written.
  static void References(const Expr& e, std::vector<std::pair<std::string, SourceRange>>& out);

  // The rules in file order, except that a rule comes after every rule whose lets it
  // reads. A cycle is an error: no order could compute it.
  std::vector<const ast::Rule*> OrderRules(const std::vector<const ast::Rule*>& rules);

  // The derived signal `rule.let`: every evaluation point of that rule at which the let is
  // known is an event of it, at the point's time, with the let's value. Null (after an
  // error) when the name does not resolve.
  const SignalInfo* Derived(const std::string& name, const SourceRange& r, Scope& scope);
  const SignalInfo* Responses(const std::string& name, const std::string& rule, const SourceRange& r, Scope& scope);

  // ---- tests ---------------------------------------------------------------

  void Test(const ast::Test& t);

  // Whether a plain value (of a test step) fits `want`, the type of `what`; reports why not.
  bool PlainFits(const ast::PlainValue& v, const Type& want, const std::string& what,
                 const std::vector<std::pair<stdlib::Unit, Decimal>>& conversions);

  void UnknownSignal(const std::string& name, const SourceRange& r, const Scope& scope);

  // ---- expressions -----------------------------------------------------------

  const Expr* negated_literal_ = nullptr;  // the operand of a unary minus being checked

  ExprInfo Check(const Expr& e, Scope& scope);

  static ExprInfo Err() {
    ExprInfo i;
    i.may_be_unknown = true;
    return i;
  }
  static ExprInfo Of(Type t, bool unknown) {
    ExprInfo i;
    i.type = std::move(t);
    i.may_be_unknown = unknown;
    return i;
  }

  ExprInfo CheckInner(const Expr& e, Scope& scope);
  ExprInfo NumberLiteral(const Expr& e);
  ExprInfo QuantityLiteral(const Expr& e);
  ExprInfo UnaryOrStep(const Expr& e, Scope& scope);
  ExprInfo Limit(const Expr& e);
  ExprInfo Temporal(const Expr& e, Scope& scope);

  // Integer ^ Integer is an Integer, unless the exponent is a negative constant (2 ^ -2
  // is 0.25, as in CQL); any decimal operand makes a Decimal.
  static TypeKind PowerKind(const ExprInfo& a, const ExprInfo& b);

  // CQL's type names as written after `as` and `minimum`/`maximum`.
  static TypeKind TypeNamed(const std::string& name);

  // `x as T`: gives `null` a type; otherwise T must be x's type (or Decimal for an Integer).
  ExprInfo As(const Expr& e, Scope& scope);

  void Boolean(const Expr& e, const ExprInfo& i, const std::string& what);

  void Window(const Expr& e, const ExprInfo& i);

  static std::string Text(const Expr& e);

  const SignalInfo* Signal(const std::string& name, const SourceRange& r, Scope& scope);

  ExprInfo Name(const Expr& e, Scope& scope);

  // The common type of two branches (if, case, ??, bands rows).
  ExprInfo Join(const ExprInfo& a, const ExprInfo& b, const Expr& at, const std::string& what);

  void BareNumber(const Expr& number, const Type& quantity, const std::string& subject,
                  const SignalInfo* origin = nullptr);

  // Converts a constant to `to`'s unit (for lint and constant folding).
  static std::optional<Decimal> ConstantIn(const ExprInfo& i, const Type& to);

  ExprInfo Binary(const Expr& e, Scope& scope);
  ExprInfo Comparison(const Expr& e, const ExprInfo& a, const ExprInfo& b);
  bool CompareQuantities(const Expr& e, const ExprInfo& a, const ExprInfo& b);
  std::optional<ExprInfo> ViaSchema(const ExprInfo& value, const Expr& literal, const ExprInfo& lit);
  void QuotedNumber(diag::Diagnostic* d, const Expr& e, const ExprInfo& a, const ExprInfo& b);

  // How a message names an expression: a name as written, else its signal.
  static std::string Subject(const Expr& e, const ExprInfo& i);

  static std::string Describe(const Expr& e, const ExprInfo& i);

  void EnumMember(const std::string& value, const SourceRange& r, const Type& en);

  // Lint: a comparison of a signal's value with a constant outside its plausible range.
  void Threshold(const Expr& e, const ExprInfo& a, const ExprInfo& b);

  ExprInfo Arithmetic(const Expr& e, const ExprInfo& a, const ExprInfo& b);

  ExprInfo Case(const Expr& e, Scope& scope);

  // A band bound as a raw decimal in the subject's unit; a unit the subject's signal
  // converts (`convert` in its schema) is taken by that conversion.
  std::optional<Decimal> BandNumber(const ast::PlainValue& v, const Type& subject, const SignalInfo* signal);

  ExprInfo Bands(const Expr& e, Scope& scope);
  bool NumericBands(const Expr& e, const ExprInfo& subject);
  std::optional<BandInterval> RowInterval(const ast::BandRow& row, const Type& st, const SignalInfo* signal,
                                          std::vector<BandBound>& bounds);
  void BandConvention(const std::vector<BandBound>& bounds);
  bool ExactBands(const Expr& e, const Type& st);

  ExprInfo Call(const Expr& e, Scope& scope);

  ExprInfo ScalarCall(const Expr& e, const FunctionInfo& f, Scope& scope);
  ExprInfo ValueIn(const Expr& e, const ExprInfo& quantity, bool unknown);

  ExprInfo AggregateCall(const Expr& e, Aggregate f, Scope& scope);

  const std::vector<const ast::File*>& files_;
  diag::DiagnosticEngine& diags_;
  Model model_;
  std::map<std::string, const ast::Schema*> schema_decls_;
  std::map<std::string, const ast::SignalDecl*> codes_;
  std::map<std::string, const ast::Rule*> rules_;
  std::multimap<std::string, const ast::Rule*> rules_by_name_;
  std::map<const ast::Rule*, std::map<std::string, const SignalInfo*>> rule_signals_;
  std::map<const ast::Rule*, std::map<std::string, Type>> rule_lets_;  // for `expect NAME = ...`
  std::map<const ast::Rule*, std::map<std::string, const ast::RuleItem*>> rule_let_items_;
  std::set<std::string> checked_rules_;
  std::set<std::string> referenced_lets_;  // `rule.let` names some rule reads
  const ast::Rule* current_rule_ = nullptr;
  std::set<const ast::RuleItem*> used_before_definition_;  // lets named above their definition
  std::string retention_text_;
  SourceRange policy_range_;  // the rule set that declared the governance policy
};

}  // namespace cdr::sema::checker
