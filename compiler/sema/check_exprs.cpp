// compiler/sema/check_exprs.cpp: types every expression: literals, names, operators
// (units included), conditionals; and the thresholds a plausible range rules out.
#include "compiler/sema/checker.h"

#include <algorithm>

namespace cdr::sema::checker {

void Checker::UnknownSignal(const std::string& name, const SourceRange& r, const Scope& scope) {
  auto* d = Error<Msg::UnknownSignal>(r, name);
  if (DidYouMean(d, name, r, Keys(scope.signals))) return;
  for (const auto& [schema, signals] : model_.schemas) {
    if (signals.count(name)) {
      AddNote(d, signals.at(name).decl->name_range, "`" + name + "` is declared in schema `" + schema +
                                                        "`; add `uses " + schema + "`");
      return;
    }
  }
}

const Expr* negated_literal_ = nullptr;  // the operand of a unary minus being checked

ExprInfo Checker::Check(const Expr& e, Scope& scope) {
  ExprInfo info = CheckInner(e, scope);
  model_.exprs[&e] = info;
  return info;
}

ExprInfo Checker::CheckInner(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case ExprKind::Error: return Err();
    case ExprKind::Bool: return Of(Type::Of(TypeKind::Boolean), false);
    case ExprKind::Null: return Of(Type::Of(TypeKind::Null), true);
    case ExprKind::Number: return NumberLiteral(e);
    case ExprKind::Quantity:
    case ExprKind::Duration: return QuantityLiteral(e);
    case ExprKind::Text: return Of(Type::Of(TypeKind::Text), false);
    case ExprKind::DateTime: return Of(Type::Of(TypeKind::DateTime), false);
    case ExprKind::Name: return Name(e, scope);
    case ExprKind::Paren: return Check(*e.kids[0], scope);
    case ExprKind::Unary:
    case ExprKind::Step: return UnaryOrStep(e, scope);
    case ExprKind::Not: {
      ExprInfo a = Check(*e.kids[0], scope);
      Boolean(*e.kids[0], a, "`not`");
      return Of(Type::Of(TypeKind::Boolean), a.may_be_unknown);
    }
    case ExprKind::Is: {
      ExprInfo a = Check(*e.kids[0], scope);
      if (e.op != O::IsNull) Boolean(*e.kids[0], a, "`is " + std::string(Spelling(e.op)) + "`");
      return Of(Type::Of(TypeKind::Boolean), false);
    }
    case ExprKind::Binary: return Binary(e, scope);
    case ExprKind::Sustained:
    case ExprKind::Absence:
    case ExprKind::Sequence: return Temporal(e, scope);
    case ExprKind::If: {
      ExprInfo c = Check(*e.kids[0], scope);
      Boolean(*e.kids[0], c, "`if`");
      ExprInfo a = Check(*e.kids[1], scope);
      ExprInfo b = Check(*e.kids[2], scope);
      return Join(a, b, *e.kids[2], "`if` branches");
    }
    case ExprKind::Case: return Case(e, scope);
    case ExprKind::Bands: return Bands(e, scope);
    case ExprKind::Call: return Call(e, scope);
    case ExprKind::As: return As(e, scope);
    case ExprKind::Limit: return Limit(e);
  }
  return Err();
}

// An integer or decimal literal; `-2147483648` is an integer (the minus is checked with it).
ExprInfo Checker::NumberLiteral(const Expr& e) {
  auto d = Number(e.text, e.range, negated_literal_ == &e);
  if (!d) return Err();
  ExprInfo i = Of(Type::Of(e.text.find('.') == std::string::npos ? TypeKind::Integer : TypeKind::Decimal), false);
  i.constant = d;
  return i;
}

// `5 'mg/dL'`, `4 hours`, `4h`.
ExprInfo Checker::QuantityLiteral(const Expr& e) {
  auto d = Number(e.text, e.name_range.valid() ? e.name_range : e.range);
  if (e.kind == ExprKind::Quantity && !e.quoted_unit &&
      (e.unit == "month" || e.unit == "months" || e.unit == "year" || e.unit == "years")) {
    // CQL's calendar durations: a month or year has no fixed length, so cdr refuses
    // the words rather than guess; UCUM's mean `'mo'` and `'a'` remain available.
    Error<Msg::UnknownUnit>(e.name2_range.valid() ? e.name2_range : e.range, e.unit,
                            "months and years have no fixed length; write days (`30 days`) or UCUM's mean `'mo'` or `'a'`");
    return Err();
  }
  std::string unit = e.kind == ExprKind::Duration ? e.unit : (e.quoted_unit ? e.unit : TemporalUnit(e.unit));
  auto u = Unit(unit, e.kind == ExprKind::Duration || !e.name2_range.valid() ? e.range : e.name2_range);
  if (!d || !u) return Err();
  ExprInfo i = Of(Type::Quantity(*u), false);
  i.constant = d;
  return i;
}

// `-x`, `+x`, `predecessor of x`, `successor of x`: a number or quantity.
ExprInfo Checker::UnaryOrStep(const Expr& e, Scope& scope) {
  bool step = e.kind == ExprKind::Step;
  if (e.op == O::Minus) negated_literal_ = e.kids[0].get();
  ExprInfo a = Check(*e.kids[0], scope);
  negated_literal_ = nullptr;
  if (a.type.IsError()) return Err();
  if (!a.type.IsNumeric() && a.type.kind != TypeKind::Quantity && a.type.kind != TypeKind::Null) {
    if (step) {
      Error<Msg::StepNeedsNumber>(e.range, Spelling(e.op), ToString(a.type));
    } else {
      Error<Msg::UnaryNeedsNumber>(e.range, Spelling(e.op), ToString(a.type));
    }
    return Err();
  }
  a.origin = nullptr;
  if (step) {
    a.constant.reset();
    a.may_be_unknown = true;  // at the end of the range
  } else if (a.constant && e.op == O::Minus) {
    a.constant = Decimal::FromRaw(-a.constant->raw());
  }
  return a;
}

// `minimum Integer`, `maximum Decimal`: the ends of the ranges.
ExprInfo Checker::Limit(const Expr& e) {
  TypeKind k = TypeNamed(e.name2);
  if (k != TypeKind::Integer && k != TypeKind::Decimal) {
    Error<Msg::LimitNeedsNumberType>(e.name2_range, Spelling(e.op), e.name2);
    return Err();
  }
  ExprInfo i = Of(Type::Of(k), false);
  bool max = e.op == O::Maximum;
  i.constant = k == TypeKind::Integer ? Decimal::FromInteger(max ? kMaxInteger : kMinInteger)
                                      : Decimal::FromRaw(max ? INT64_MAX : INT64_MIN + 1);
  return i;
}

// `C for D`, `no S within D`, `A then B within D`: a boolean over events in a window.
ExprInfo Checker::Temporal(const Expr& e, Scope& scope) {
  if (e.kind == ExprKind::Sustained) {
    bool outer = scope.in_sustained;
    scope.in_sustained = true;
    ExprInfo c = Check(*e.kids[0], scope);
    scope.in_sustained = outer;
    Boolean(*e.kids[0], c, "`for`");
    ExprInfo d = Check(*e.kids[1], scope);
    Window(*e.kids[1], d);
    return Of(Type::Of(TypeKind::Boolean), false);
  }
  Signal(e.text, e.name_range, scope);
  if (e.kind == ExprKind::Sequence) Signal(e.name2, e.name2_range, scope);
  ExprInfo d = Check(*e.kids[0], scope);
  Window(*e.kids[0], d);
  return Of(Type::Of(TypeKind::Boolean), false);
}

// Integer ^ Integer is an Integer, unless the exponent is a negative constant (2 ^ -2
// is 0.25, as in CQL); any decimal operand makes a Decimal.
TypeKind Checker::PowerKind(const ExprInfo& a, const ExprInfo& b) {
  bool ints = a.type.kind != TypeKind::Decimal && b.type.kind != TypeKind::Decimal;
  if (ints && b.constant && b.constant->raw() < 0) ints = false;
  return ints ? TypeKind::Integer : TypeKind::Decimal;
}

// CQL's type names as written after `as` and `minimum`/`maximum`.
TypeKind Checker::TypeNamed(const std::string& name) {
  if (name == "Integer") return TypeKind::Integer;
  if (name == "Decimal") return TypeKind::Decimal;
  if (name == "Boolean") return TypeKind::Boolean;
  if (name == "String") return TypeKind::Text;
  if (name == "Quantity") return TypeKind::Quantity;
  return TypeKind::Error;
}

// `x as T`: gives `null` a type; otherwise T must be x's type (or Decimal for an Integer).
ExprInfo Checker::As(const Expr& e, Scope& scope) {
  ExprInfo a = Check(*e.kids[0], scope);
  if (a.type.IsError()) return Err();
  TypeKind k = TypeNamed(e.text);
  if (k == TypeKind::Error) {
    Error<Msg::UnknownType>(e.name_range, e.text);
    return Err();
  }
  if (a.type.kind == TypeKind::Null) {
    Type t = k == TypeKind::Quantity ? Type::Quantity(*stdlib::ParseUnit("1")) : Type::Of(k);
    return Of(t, true);
  }
  if (a.type.kind == k) return a;
  if (a.type.kind == TypeKind::Integer && k == TypeKind::Decimal) {
    a.type = Type::Of(TypeKind::Decimal);
    a.origin = nullptr;
    return a;
  }
  Error<Msg::CannotTreatAs>(e.range, ToString(a.type), e.text);
  return Err();
}

void Checker::Boolean(const Expr& e, const ExprInfo& i, const std::string& what) {
  if (i.type.IsError() || i.type.kind == TypeKind::Boolean || i.type.kind == TypeKind::Null) return;
  Error<Msg::NeedsBoolean>(e.range, what, ToString(i.type));
}

void Checker::Window(const Expr& e, const ExprInfo& i) {
  auto secs = DurationSeconds(e, i, "a window");
  if (secs && model_.retention_seconds && *secs > *model_.retention_seconds) {
    auto* d =
        Error<Msg::WindowExceedsRetention>(e.range, "`" + Text(e) + "`", model_.retention_ruleset, retention_text_);
    AddNote(d, {}, "events older than the retention are evicted, so this window would silently see less");
  }
}

std::string Checker::Text(const Expr& e) {
  if (e.kind == ExprKind::Duration) return e.text + e.unit;
  if (e.kind == ExprKind::Quantity) return e.text + " " + (e.quoted_unit ? "'" + e.unit + "'" : e.unit);
  return e.text;
}

const SignalInfo* Checker::Signal(const std::string& name, const SourceRange& r, Scope& scope) {
  auto it = scope.signals.find(name);
  const SignalInfo* found = it != scope.signals.end()           ? it->second
                            : name.find('.') != std::string::npos ? Derived(name, r, scope)
                                                                  : nullptr;
  if (found) RecordSignal(name, r, found);
  if (found || name.find('.') != std::string::npos) return found;
  if (scope.lets && scope.lets->count(name)) {
    Error<Msg::LetNotSignal>(r, name);
    return nullptr;
  }
  UnknownSignal(name, r, scope);
  return nullptr;
}

ExprInfo Checker::Name(const Expr& e, Scope& scope) {
  if (e.text.find('.') != std::string::npos && !Derived(e.text, e.range, scope)) return Err();
  if (scope.lets) {
    if (auto it = scope.lets->find(e.text); it != scope.lets->end()) {
      it->second.used = true;
      if (current_rule_) RecordLet(*current_rule_, *it->second.item, e.range);
      ExprInfo i = it->second.info;
      return i;
    }
  }
  if (auto it = scope.signals.find(e.text); it != scope.signals.end()) {
    RecordSignal(e.text, e.range, it->second);
    if (scope.in_sustained) {
      ExprInfo i = Of(it->second->type, true);
      i.origin = it->second;
      i.signal = e.text;
      return i;
    }
    auto* d = Error<Msg::SignalNotValue>(e.range, e.text, e.text);
    if (d) d->fixes.push_back(diag::FixIt{e.range, "last(" + e.text + " within 4h)"});
    return Err();
  }
  // A `let` of this rule defined further down: say where, and do not call it unused later.
  if (scope.lets && current_rule_) {
    for (const auto& it : current_rule_->items) {
      if (it.kind != ast::RuleItem::Kind::Let || it.names[0] != e.text || it.range.line <= e.range.line) continue;
      auto* d = Error<Msg::LetDefinedBelow>(e.range, e.text, it.range.line);
      AddNote(d, it.name_ranges[0], "defined here; move it above its first use");
      used_before_definition_.insert(&it);
      return Err();
    }
  }
  std::vector<std::string> names = scope.lets ? Keys(*scope.lets) : std::vector<std::string>{};
  for (const auto& n : Keys(scope.signals)) names.push_back(n);
  auto* d = Error<Msg::UndefinedName>(e.range, e.text);
  DidYouMean(d, e.text, e.range, names);
  return Err();
}

// The common type of two branches (if, case, ??, bands rows).
ExprInfo Checker::Join(const ExprInfo& a, const ExprInfo& b, const Expr& at, const std::string& what) {
  if (a.type.IsError() || b.type.IsError()) return Err();
  ExprInfo r;
  r.may_be_unknown = a.may_be_unknown || b.may_be_unknown;
  r.unshielded_arith = a.unshielded_arith || b.unshielded_arith;
  r.arith_site = a.arith_site ? a.arith_site : b.arith_site;
  if (a.type.kind == TypeKind::Null) return r.type = b.type, r.may_be_unknown = true, r;
  if (b.type.kind == TypeKind::Null) return r.type = a.type, r.may_be_unknown = true, r;
  if (a.type.IsNumeric() && b.type.IsNumeric()) {
    r.type = Type::Of(a.type.kind == TypeKind::Decimal || b.type.kind == TypeKind::Decimal ? TypeKind::Decimal
                                                                                              : TypeKind::Integer);
    return r;
  }
  if (a.type.kind == TypeKind::Quantity && b.type.kind == TypeKind::Quantity) {
    if (!a.type.unit.CommensurableWith(b.type.unit)) {
      Error<Msg::BranchDimensions>(at.range, what, a.type.unit.text, b.type.unit.text);
      return Err();
    }
    r.type = a.type;
    return r;
  }
  if (a.type.kind == b.type.kind && (a.type.kind != TypeKind::Enum || a.type.enum_name == b.type.enum_name)) {
    r.type = a.type;
    return r;
  }
  if (a.type.kind == TypeKind::Quantity && b.type.IsNumeric() && at.kind == ExprKind::Number) {
    BareNumber(at, a.type, "");
    return Err();
  }
  Error<Msg::BranchTypes>(at.range, what, ToString(a.type), ToString(b.type));
  return Err();
}

void Checker::BareNumber(const Expr& number, const Type& quantity, const std::string& subject,
                         const SignalInfo* origin) {
  std::string who = subject.empty() ? "the other side" : "`" + subject + "`";
  auto* d = Error<Msg::BareNumberCompared>(number.range, who, quantity.unit.text, number.text);
  if (!d) return;
  // The unit to propose: of the signal's unit and those it converts, the first in which the
  // number is plausible for the signal (3.9 against glucose in 'mg/dL' is 'mmol/L'); none
  // when the number is plausible in none of them.
  std::vector<std::pair<stdlib::Unit, Decimal>> units = {{quantity.unit, Decimal::FromRaw(Decimal::kOne)}};
  if (origin) units.insert(units.end(), origin->conversions.begin(), origin->conversions.end());
  auto value = Decimal::Parse(number.text);
  std::vector<std::string> plausible;
  for (const auto& [unit, factor] : units) {
    bool fits = true;
    if (origin && origin->plausible_low && origin->plausible_high && value) {
      auto in_signal = stdlib::Mul(*value, factor);
      fits = in_signal && !(*in_signal < *origin->plausible_low) && !(*origin->plausible_high < *in_signal);
    }
    if (fits) plausible.push_back(unit.text);
  }
  if (plausible.empty()) {
    AddNote(d, {}, fmt::format("`{}` is not plausible for `{}` ({} .. {} '{}') in any unit it takes: which value was meant?",
                               number.text, origin->decl->name, origin->plausible_low->ToShortString(),
                               origin->plausible_high->ToShortString(), quantity.unit.text));
    return;
  }
  d->fixes.push_back(diag::FixIt{Point(number.range), " '" + plausible[0] + "'"});
  if (plausible[0] != quantity.unit.text) {
    AddNote(d, {}, fmt::format("`{}` is plausible for `{}` in '{}', which its schema converts", number.text,
                               origin->decl->name, plausible[0]));
  }
}

// Converts a constant to `to`'s unit (for lint and constant folding).
std::optional<Decimal> Checker::ConstantIn(const ExprInfo& i, const Type& to) {
  if (!i.constant) return std::nullopt;
  if (i.type.kind == TypeKind::Quantity && to.kind == TypeKind::Quantity) {
    return stdlib::Convert(*i.constant, i.type.unit, to.unit);
  }
  return i.constant;
}

ExprInfo Checker::Binary(const Expr& e, Scope& scope) {
  ExprInfo a = Check(*e.kids[0], scope);
  ExprInfo b = Check(*e.kids[1], scope);
  const ast::Operator op = e.op;
  if (op == O::And || op == O::Or || op == O::Xor || op == O::Implies) {
    Boolean(*e.kids[0], a, "`" + std::string(Spelling(op)) + "`");
    Boolean(*e.kids[1], b, "`" + std::string(Spelling(op)) + "`");
    ExprInfo r = Of(Type::Of(TypeKind::Boolean), a.may_be_unknown || b.may_be_unknown);
    if (op == O::And) {
      r.unshielded_arith = a.unshielded_arith || b.unshielded_arith;
      r.arith_site = a.unshielded_arith ? a.arith_site : b.arith_site;
    }
    return r;
  }
  if (a.type.IsError() || b.type.IsError()) return Err();
  if (op == O::Coalesce) {
    ExprInfo r = Join(a, b, *e.kids[1], "the sides of `??`");
    if (r.type.IsError()) return r;
    r.may_be_unknown = b.may_be_unknown;
    r.unshielded_arith = false;
    r.arith_site = nullptr;
    return r;
  }
  bool arith = op == O::Plus || op == O::Minus || op == O::Times || op == O::Divide || op == O::Div || op == O::Mod ||
               op == O::Power;
  if (arith) {
    ExprInfo r = Arithmetic(e, a, b);
    if (r.type.IsError()) return r;
    r.may_be_unknown = r.may_be_unknown || a.may_be_unknown || b.may_be_unknown;
    if (a.unshielded_arith || b.unshielded_arith) {
      r.unshielded_arith = true;
      r.arith_site = a.unshielded_arith ? a.arith_site : b.arith_site;
    } else if (op == O::Plus && a.may_be_unknown && b.may_be_unknown) {
      // Only sums: a total of scores is where a missing part silently blocks the alert.
      // A ratio or difference of two measurements is meant to be unknown without both.
      r.unshielded_arith = true;
      r.arith_site = &e;
    }
    return r;
  }
  return Comparison(e, a, b);
}

// `<`, `<=`, `>`, `>=`, `=`, `!=`, `~`, `!~` over operands of known types: numbers with
// numbers, commensurable quantities, an enum with its members (equality only), two values
// of one kind (booleans by equality only).
ExprInfo Checker::Comparison(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
  const ast::Operator op = e.op;
  bool equality = op == O::Equal || op == O::NotEqual || op == O::Equivalent || op == O::NotEquivalent;
  ExprInfo r = Of(Type::Of(TypeKind::Boolean), a.may_be_unknown || b.may_be_unknown);
  r.unshielded_arith = a.unshielded_arith || b.unshielded_arith;
  r.arith_site = a.unshielded_arith ? a.arith_site : b.arith_site;
  if (op == O::Equivalent || op == O::NotEquivalent) r.may_be_unknown = false;
  if (a.type.kind == TypeKind::Null || b.type.kind == TypeKind::Null) return r;
  if (a.type.IsNumeric() && b.type.IsNumeric()) return r;
  if (a.type.kind == TypeKind::Quantity || b.type.kind == TypeKind::Quantity) {
    return CompareQuantities(e, a, b) ? r : Err();
  }
  if (a.type.kind == TypeKind::Enum || b.type.kind == TypeKind::Enum) {
    const ExprInfo& en = a.type.kind == TypeKind::Enum ? a : b;
    const Expr& other = a.type.kind == TypeKind::Enum ? *e.kids[1] : *e.kids[0];
    const ExprInfo& oi = a.type.kind == TypeKind::Enum ? b : a;
    if (!equality) {
      Error<Msg::EnumNotOrdered>(e.range, Spelling(op));
      return Err();
    }
    if (oi.type.kind == TypeKind::Enum && oi.type.enum_name == en.type.enum_name) return r;
    if (other.kind == ExprKind::Text) {
      EnumMember(ast::Unquote(other.text), other.range, en.type);
      return r;
    }
    Error<Msg::CannotCompare>(e.range, ToString(a.type), ToString(b.type));
    return Err();
  }
  if (a.type.kind == b.type.kind) {
    if (!equality && a.type.kind == TypeKind::Boolean) {
      Error<Msg::BooleanNotOrdered>(e.range, Spelling(op));
      return Err();
    }
    return r;
  }
  QuotedNumber(Error<Msg::CannotCompare>(e.range, ToString(a.type), ToString(b.type)), e, a, b);
  return Err();
}

// A number written in quotes compared with a number (`score >= '5'`): the fix drops the
// quotes (with a quantity's unit, `'90'` becomes `90 'mm[Hg]'`).
void Checker::QuotedNumber(diag::Diagnostic* d, const Expr& e, const ExprInfo& a, const ExprInfo& b) {
  if (!d) return;
  for (int side = 0; side < 2; ++side) {
    const Expr& text = *e.kids[static_cast<size_t>(side)];
    const ExprInfo& other = side == 0 ? b : a;
    if (text.kind != ExprKind::Text || !(other.type.IsNumeric() || other.type.kind == TypeKind::Quantity)) continue;
    const std::string inner = ast::Unquote(text.text);
    if (!stdlib::Decimal::Parse(inner)) continue;
    const std::string number =
        other.type.kind == TypeKind::Quantity ? inner + " '" + other.type.unit.text + "'" : inner;
    d->fixes.push_back(diag::FixIt{text.range, number});
    AddNote(d, text.range, "`" + text.text + "` is text: without the quotes it is the number " + inner);
  }
}

// A comparison with a quantity: the other side a quantity of the same dimension (then the
// threshold is checked against the plausible range), never a bare number.
// `glucose < 3.9 'mmol/L'` of a signal in 'mg/dL' that declares `convert 'mmol/L' factor
// 18.016`: the literal, in a unit its signal converts, is taken in the signal's unit (70.2624
// 'mg/dL'), exactly as events in that unit are. Only for a signal's value unchanged (last,
// min, max...) against a quantity literal: the conversion is the signal's, not the unit's.
std::optional<ExprInfo> Checker::ViaSchema(const ExprInfo& value, const Expr& literal, const ExprInfo& lit) {
  if (!value.origin || literal.kind != ExprKind::Quantity || !lit.constant || lit.type.kind != TypeKind::Quantity) {
    return std::nullopt;
  }
  auto converted = ConstantInUnit(*lit.constant, lit.type.unit, value.origin->type.unit, value.origin);
  if (!converted) return std::nullopt;
  ExprInfo& stored = model_.exprs[&literal];
  stored.type = value.origin->type;
  stored.constant = converted;
  return stored;
}

bool Checker::CompareQuantities(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
  if (a.type.kind == TypeKind::Quantity && b.type.kind == TypeKind::Quantity) {
    if (a.type.unit.CommensurableWith(b.type.unit)) {
      Threshold(e, a, b);
      return true;
    }
    if (auto b2 = ViaSchema(a, *e.kids[1], b)) {
      Threshold(e, a, *b2);
      return true;
    }
    if (auto a2 = ViaSchema(b, *e.kids[0], a)) {
      Threshold(e, *a2, b);
      return true;
    }
    Error<Msg::CompareDimensions>(e.range, Describe(*e.kids[0], a), a.type.unit.text, a.type.unit.dim.ToString(),
                                  b.type.unit.text, b.type.unit.dim.ToString());
    return false;
  }
  const Expr& num = a.type.kind == TypeKind::Quantity ? *e.kids[1] : *e.kids[0];
  const ExprInfo& q = a.type.kind == TypeKind::Quantity ? a : b;
  const ExprInfo& n = a.type.kind == TypeKind::Quantity ? b : a;
  if (n.type.IsNumeric() && (num.kind == ExprKind::Number || (num.kind == ExprKind::Unary && num.kids[0]->kind == ExprKind::Number))) {
    const Expr& lit = num.kind == ExprKind::Number ? num : *num.kids[0];
    const Expr& qe = a.type.kind == TypeKind::Quantity ? *e.kids[0] : *e.kids[1];
    BareNumber(lit, q.type, Subject(qe, q), q.origin);
    return false;
  }
  QuotedNumber(Error<Msg::CannotCompare>(e.range, ToString(a.type), ToString(b.type)), e, a, b);
  return false;
}

// How a message names an expression: a name as written, else its signal.
std::string Checker::Subject(const Expr& e, const ExprInfo& i) {
  if (e.kind == ExprKind::Name) return e.text;
  if (e.kind == ExprKind::Paren) return Subject(*e.kids[0], i);
  return i.signal;
}

std::string Checker::Describe(const Expr& e, const ExprInfo& i) {
  if (std::string s = Subject(e, i); !s.empty()) return "`" + s + "`";
  if (e.kind == ExprKind::Name) return "`" + e.text + "`";
  if (e.kind == ExprKind::Call) return "`" + e.text + "(...)`";
  return "the left side";
}

void Checker::EnumMember(const std::string& value, const SourceRange& r, const Type& en) {
  if (std::find(en.members.begin(), en.members.end(), value) != en.members.end()) return;
  auto* d = Error<Msg::UnknownEnumValue>(r, value, ToString(en));
  std::string sug = Suggest(value, en.members);
  if (!sug.empty() && d) {
    AddNote(d, {}, "did you mean '" + sug + "'?");
    d->fixes.push_back(diag::FixIt{r, "'" + sug + "'"});
  }
}

// Lint: a comparison of a signal's value with a constant outside its plausible range.
void Checker::Threshold(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
  const ExprInfo* sig = a.origin ? &a : (b.origin ? &b : nullptr);
  const ExprInfo* cst = a.origin ? &b : &a;
  if (!sig || !cst->constant || sig == cst) return;
  const SignalInfo& s = *sig->origin;
  if (!s.plausible_low || !s.plausible_high) return;
  auto c = ConstantIn(*cst, s.type);
  if (!c) return;
  ast::Operator op = e.op;
  if (sig == &b) {  // constant on the left: mirror the operator
    if (op == O::Less) op = O::Greater;
    else if (op == O::Greater) op = O::Less;
    else if (op == O::LessEqual) op = O::GreaterEqual;
    else if (op == O::GreaterEqual) op = O::LessEqual;
  }
  Decimal lo = *s.plausible_low, hi = *s.plausible_high;
  const char* verdict = nullptr;
  if (op == O::Greater) verdict = *c >= hi ? "never" : (*c < lo ? "always" : nullptr);
  else if (op == O::GreaterEqual) verdict = *c > hi ? "never" : (*c <= lo ? "always" : nullptr);
  else if (op == O::Less) verdict = *c <= lo ? "never" : (*c > hi ? "always" : nullptr);
  else if (op == O::LessEqual) verdict = *c < lo ? "never" : (*c >= hi ? "always" : nullptr);
  else if (op == O::Equal || op == O::Equivalent) verdict = (*c < lo || *c > hi) ? "never" : nullptr;
  if (!verdict) return;
  auto* d = Error<Msg::ThresholdOutOfRange>(e.range, s.decl->name, lo.ToShortString(), hi.ToShortString(),
                                            s.type.unit.text, verdict);
  AddNote(d, s.decl->plausible_range, "the plausible range is declared here");
}

ExprInfo Checker::Arithmetic(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
  const ast::Operator op = e.op;
  const Type& ta = a.type;
  const Type& tb = b.type;
  if (ta.kind == TypeKind::Null || tb.kind == TypeKind::Null) {
    return Of(ta.kind == TypeKind::Null ? tb : ta, true);
  }
  if (op == O::Power) {
    if (ta.IsNumeric() && tb.IsNumeric()) return Of(Type::Of(PowerKind(a, b)), true);
    Error<Msg::OperatorNeedsNumbers>(e.range, "^", ToString(ta), ToString(tb));
    return Err();
  }
  if (op == O::Div || op == O::Mod) {
    if (ta.kind == TypeKind::Integer && tb.kind == TypeKind::Integer) return Of(ta, true);
    if (ta.IsNumeric() && tb.IsNumeric()) return Of(Type::Of(TypeKind::Decimal), true);
    if (ta.kind == TypeKind::Quantity && tb.kind == TypeKind::Quantity && ta.unit.CommensurableWith(tb.unit)) {
      return Of(ta, true);  // in the left operand's unit
    }
    Error<Msg::OperatorNeedsNumbers>(e.range, Spelling(op), ToString(ta), ToString(tb));
    return Err();
  }
  if (ta.IsNumeric() && tb.IsNumeric()) {
    bool dec = op == O::Divide || ta.kind == TypeKind::Decimal || tb.kind == TypeKind::Decimal;
    return Of(Type::Of(dec ? TypeKind::Decimal : TypeKind::Integer), op == O::Divide);
  }
  if (op == O::Plus || op == O::Minus) {
    if (ta.kind == TypeKind::DateTime && tb.IsDuration()) return Of(ta, false);
    if (ta.kind == TypeKind::DateTime && tb.kind == TypeKind::DateTime && op == O::Minus) {
      return Of(Type::Quantity(*stdlib::ParseUnit("h")), false);
    }
    if (ta.kind == TypeKind::Quantity && tb.kind == TypeKind::Quantity) {
      if (!ta.unit.CommensurableWith(tb.unit)) {
        if (op == O::Plus) {
          Error<Msg::CannotAdd>(e.range, tb.unit.text, tb.unit.dim.ToString(), ta.unit.text, ta.unit.dim.ToString());
        } else {
          Error<Msg::CannotSubtract>(e.range, tb.unit.text, tb.unit.dim.ToString(), ta.unit.text,
                                     ta.unit.dim.ToString());
        }
        return Err();
      }
      return Of(ta, false);
    }
    if (ta.kind == TypeKind::Quantity && tb.IsNumeric() && e.kids[1]->kind == ExprKind::Number) {
      BareNumber(*e.kids[1], ta, Subject(*e.kids[0], a), a.origin);
      return Err();
    }
    if (tb.kind == TypeKind::Quantity && ta.IsNumeric() && e.kids[0]->kind == ExprKind::Number) {
      BareNumber(*e.kids[0], tb, Subject(*e.kids[1], b), b.origin);
      return Err();
    }
  }
  if (op == O::Times || op == O::Divide) {
    if (ta.kind == TypeKind::Quantity && tb.IsNumeric()) return Of(ta, op == O::Divide);
    if (tb.kind == TypeKind::Quantity && ta.IsNumeric() && op == O::Times) return Of(tb, false);
    if (ta.kind == TypeKind::Quantity && tb.kind == TypeKind::Quantity) {
      if (op == O::Divide && ta.unit.CommensurableWith(tb.unit)) return Of(Type::Of(TypeKind::Decimal), true);
      return Of(Type::Quantity(op == O::Times ? stdlib::Multiply(ta.unit, tb.unit) : stdlib::Divide(ta.unit, tb.unit)),
                op == O::Divide);
    }
  }
  Error<Msg::CannotCombine>(e.range, Spelling(op), ToString(ta), ToString(tb));
  return Err();
}

ExprInfo Checker::Case(const Expr& e, Scope& scope) {
  size_t i = 0;
  ExprInfo subject;
  if (e.has_subject) subject = Check(*e.kids[i++], scope);
  std::optional<ExprInfo> result;
  for (; i + 1 < e.kids.size(); i += 2) {
    ExprInfo w = Check(*e.kids[i], scope);
    if (e.has_subject) {
      if (!subject.type.IsError() && !w.type.IsError() && subject.type.kind == TypeKind::Enum &&
          e.kids[i]->kind == ExprKind::Text) {
        EnumMember(ast::Unquote(e.kids[i]->text), e.kids[i]->range, subject.type);
      }
    } else {
      Boolean(*e.kids[i], w, "`case when`");
    }
    ExprInfo t = Check(*e.kids[i + 1], scope);
    result = result ? Join(*result, t, *e.kids[i + 1], "`case` results") : t;
  }
  ExprInfo other = Check(*e.kids.back(), scope);
  return result ? Join(*result, other, *e.kids.back(), "`case` results") : other;
}

}  // namespace cdr::sema::checker
