// compiler/sema/check_tests.cpp: rule tests: targets, times, statuses and values
// against the types of the signals and lets they name.
#include "compiler/sema/checker.h"

#include <algorithm>

#include "stdlib/responses.h"

namespace cdr::sema::checker {

void Checker::Test(const ast::Test& t) {
  auto r = rules_by_name_.find(t.target);
  if (r == rules_by_name_.end()) {
    auto* d = Error<Msg::UnknownRule>(t.target_range, t.target);
    std::vector<std::string> names;
    for (const auto& [n, _] : rules_by_name_) names.push_back(n);
    std::string sug = Suggest(t.target, names);
    if (!sug.empty()) AddNote(d, {}, "did you mean `" + sug + "`?");
    return;
  }
  Record(sema::Symbol::Kind::Rule, t.target, t.target_range, r->second->name_range);
  model_.symbols.back().rule = r->second;
  Scope scope;
  scope.signals = rule_signals_[r->second];
  Scope none;
  std::set<std::string> ids;
  for (const auto& s : t.steps) {
    ExprInfo time = Check(*s.time, none);
    if (!time.type.IsError() && !(time.type.IsDuration() && time.constant) && time.type.kind != TypeKind::DateTime) {
      Error<Msg::TestTime>(s.time->range, ToString(time.type));
    }
    if (s.recorded) {
      ExprInfo rec = Check(*s.recorded, none);
      if (!rec.type.IsError() && !(rec.type.IsDuration() && rec.constant) && rec.type.kind != TypeKind::DateTime) {
        Error<Msg::TestRecorded>(s.recorded->range, ToString(rec.type));
      }
    }
    if (!s.severity.empty() && !kSeverities.count(s.severity)) {
      Error<Msg::UnknownSeverity>(s.severity_range, s.severity);
    }
    if (s.kind == ast::TestStep::Kind::ExpectValue) {
      const auto& lets = rule_lets_[r->second];
      auto let = lets.find(s.signal);
      if (let == lets.end()) {
        auto* d = Error<Msg::TestUnknownLet>(s.signal_range, t.target, s.signal);
        DidYouMean(d, s.signal, s.signal_range, Keys(lets));
        continue;
      }
      if (auto item = rule_let_items_[r->second].find(s.signal); item != rule_let_items_[r->second].end()) {
        RecordLet(*r->second, *item->second, s.signal_range);
      }
      if (!s.value || let->second.IsError()) continue;  // `null` fits every type
      PlainFits(*s.value, let->second, s.signal, {});
      continue;
    }
    if (s.kind != ast::TestStep::Kind::Given) continue;
    if (!s.status.empty() && s.status != "final" && s.status != "amended" && s.status != "entered_in_error") {
      Error<Msg::TestStatus>(s.status_range, s.status);
    }
    if (!s.id.empty() && s.status.empty() && !ids.insert(s.id).second) {
      Error<Msg::TestIdTwice>(s.range, s.id);
    }
    const SignalInfo* sig = nullptr;
    if (size_t dot = s.signal.find('.'); dot == std::string::npos) {
      auto it = scope.signals.find(s.signal);
      if (it == scope.signals.end()) {
        UnknownSignal(s.signal, s.signal_range, scope);
        continue;
      }
      sig = it->second;
      RecordSignal(s.signal, s.signal_range, sig);
    } else if (!stdlib::IsResponseMember(s.signal.substr(dot + 1))) {
      Error<Msg::TestGivenDerived>(s.signal_range, s.signal, s.signal.substr(0, dot));
      continue;
    } else if (!(sig = Derived(s.signal, s.signal_range, scope))) {  // a response to a rule's alerts
      continue;
    }
    const Type& want = sig->type;
    if (!s.value) {
      // An entry in error only removes the event with its id: it needs no value.
      if (!want.IsError() && !sig->decl->is_event && s.status != "entered_in_error") {
        Error<Msg::TestNeedsValue>(s.signal_range, s.signal, ToString(want));
      }
      continue;
    }
    PlainFits(*s.value, want, sig->decl->name, sig->conversions);
  }
}

// Whether a plain value (of a test step) fits `want`, the type of `what`; reports why not.
bool Checker::PlainFits(const ast::PlainValue& v, const Type& want, const std::string& what,
               const std::vector<std::pair<stdlib::Unit, Decimal>>& conversions) {
  using PK = ast::PlainValue::Kind;
  auto found = [&]() {
    Error<Msg::ValueNotOfType>(v.range, what, ToString(want), v.text);
    return false;
  };
  switch (want.kind) {
    case TypeKind::Quantity:
      if (v.kind != PK::Number) {
        Error<Msg::ValueNotQuantity>(v.range, what, ToString(want), v.text);
        return false;
      }
      if (v.unit.empty()) {
        auto* d = Error<Msg::BareNumberGiven>(v.range, what, want.unit.text, v.text);
        if (d) d->fixes.push_back(diag::FixIt{Point(v.range), " '" + want.unit.text + "'"});
        return false;
      }
      if (auto u = Unit(v.unit, v.unit_range); u && !u->CommensurableWith(want.unit) &&
          std::none_of(conversions.begin(), conversions.end(),
                       [&](const auto& c) { return c.first.CommensurableWith(*u); })) {
        Error<Msg::ValueUnitDimension>(v.range, what, want.unit.text, v.unit, u->dim.ToString(),
                                       want.unit.dim.ToString());
        return false;
      }
      Number(v.text, v.range);
      return true;
    case TypeKind::Integer:
    case TypeKind::Decimal:
      if (v.kind != PK::Number || !v.unit.empty()) return found();
      if (want.kind == TypeKind::Integer && v.text.find('.') != std::string::npos) {
        Error<Msg::ValueNotInteger>(v.range, what, v.text);
        return false;
      }
      Number(v.text, v.range);
      return true;
    case TypeKind::Boolean:
      if (v.kind == PK::Bool) return true;
      Error<Msg::ValueNotBoolean>(v.range, what, v.text);
      return false;
    case TypeKind::Enum:
      if (v.kind != PK::Text) return found();
      if (std::find(want.members.begin(), want.members.end(), v.text) == want.members.end()) {
        std::string sug = Suggest(v.text, want.members);
        if (sug.empty()) {
          Error<Msg::ValueNotMember>(v.range, v.text, what);
        } else {
          Error<Msg::ValueNotMemberSuggest>(v.range, v.text, what, sug);
        }
        return false;
      }
      return true;
    case TypeKind::Text:
    case TypeKind::Code:
      return v.kind == PK::Text || found();
    default:
      return true;
  }
}

}  // namespace cdr::sema::checker
