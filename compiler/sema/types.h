// compiler/sema/types.h: the types of the language and what the checker records per expression.
#pragma once

#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/source/suggest.h"
#include "stdlib/decimal.h"
#include "stdlib/functions.h"
#include "stdlib/units.h"

namespace cdr::sema {

enum class TypeKind { Error, Null, Boolean, Integer, Decimal, Quantity, DateTime, Code, Text, Enum };

/// A type. Quantities carry their unit (and so their dimension); a quantity whose
/// dimension is time is shown as a duration. Enums carry their members.
struct Type {
  TypeKind kind = TypeKind::Error;
  stdlib::Unit unit;                 // Quantity
  std::string enum_name;             // Enum: the signal that declares it
  std::vector<std::string> members;  // Enum

  static Type Of(TypeKind k) { Type t; t.kind = k; return t; }
  static Type Quantity(stdlib::Unit u) { Type t; t.kind = TypeKind::Quantity; t.unit = std::move(u); return t; }
  bool IsNumeric() const { return kind == TypeKind::Integer || kind == TypeKind::Decimal; }
  bool IsDuration() const { return kind == TypeKind::Quantity && unit.dim.IsTime(); }
  bool IsError() const { return kind == TypeKind::Error; }
};

/// `quantity in 'mg/dL'`, `duration`, `integer`...
std::string ToString(const Type& t);

/// A schema signal or event as the checker sees it.
struct SignalInfo {
  const ast::SignalDecl* decl = nullptr;
  std::string schema;
  Type type;                          // Error for an event without a value
  std::optional<stdlib::Decimal> plausible_low, plausible_high;  // in the signal's unit
  /// Units from `convert` clauses, each with its factor to the signal's unit.
  std::vector<std::pair<stdlib::Unit, stdlib::Decimal>> conversions;
  /// A derived signal `rule.let` (another rule's `let`): that rule and let; else empty.
  std::string rule, let;
};

/// What the checker knows of one expression.
struct ExprInfo {
  Type type;
  bool may_be_unknown = false;
  std::optional<stdlib::Decimal> constant;  // a number or quantity literal, in `type`'s unit
  const SignalInfo* origin = nullptr;       // value taken from this signal unchanged (last, min, ...)
  bool unshielded_arith = false;            // arithmetic over 2+ possibly-unknown values, no `??`
  const ast::Expr* arith_site = nullptr;    // where that arithmetic is
  std::string signal;                       // Name resolving to a signal, or an aggregate's signal
  std::optional<stdlib::Function> function; // a call: the built-in it resolved to
};

/// A name as written in the files, and what it names: the language server's hover,
/// go-to-definition and references (docs/editors.md).
struct Symbol {
  enum class Kind { Signal, Let, Rule, Schema, Function };
  Kind kind = Kind::Signal;
  std::string name;
  source::SourceRange use;   // where it is written
  source::SourceRange decl;  // its definition (equal to `use` at the definition; invalid for a built-in)
  const SignalInfo* signal = nullptr;  // Signal (a derived signal also names its `let`)
  const ast::RuleItem* let = nullptr;  // Let, or a derived signal's let
  const ast::Rule* rule = nullptr;     // Rule, or the rule of a Let
  std::optional<stdlib::Function> function;  // Function
};

/// Everything the checker learned, for the later stages (IR lowering, lint, tools).
struct Model {
  std::map<std::string, std::map<std::string, SignalInfo>> schemas;  // schema -> signal -> info
  std::unordered_map<const ast::Expr*, ExprInfo> exprs;
  std::optional<stdlib::Decimal> retention_seconds;  // the smallest declared rule-set retention
  /// The governance policy of the rule set (`live`, `approvals` of a `ruleset`), or the
  /// documented default: approved rules run live, one approval of the rule's hash.
  struct Policy {
    std::string live = "approved";
    int approvals = 1;
    std::vector<std::string> roles;  // unquoted: each needs an approver with that role
    bool signed_approvals = false;
    std::string ruleset;  // the rule set that declared it, or empty (the default)
  } policy;
  std::string retention_ruleset;
  /// Every rule checked, in the order they must run: a rule after the rules it reads.
  std::vector<const ast::Rule*> rule_order;
  /// Derived signals (`rule.let`) that some rule reads, with the declarations made for them.
  std::map<std::string, SignalInfo> derived;
  std::list<ast::SignalDecl> derived_decls;
  /// The responses to a rule's alerts (`rule.acknowledged`, ...) that some rule reads.
  std::map<std::string, SignalInfo> responses;
  /// Every resolved name of the files (definitions included), in checking order.
  std::vector<Symbol> symbols;
};


/// A constant `value` in `unit` as a number in `to`'s unit: by UCUM when the units are
/// commensurable, else by a `convert` clause of `signal` (the signal whose value `to` is:
/// `3.9 'mmol/L'` for glucose in 'mg/dL' is 70.2624). Nothing when neither converts it.
std::optional<stdlib::Decimal> ConstantInUnit(stdlib::Decimal value, const stdlib::Unit& unit, const stdlib::Unit& to,
                                              const SignalInfo* signal);

using source::EditDistance;  // compiler/source/suggest.h
using source::Suggest;

}  // namespace cdr::sema
