// compiler/sema/check_decls.cpp: schemas, rule sets, rules and their metadata, and
// the order rules run in (a rule after the rules whose lets it reads).
#include "compiler/sema/checker.h"

#include <algorithm>
#include <functional>

#include "compiler/sema/lint.h"
#include "stdlib/responses.h"

namespace cdr::sema::checker {

void Checker::Schema(const ast::Schema& s) {
  if (schema_decls_.count(s.name)) {
    auto* d = Error<Msg::SchemaRedefinition>(s.name_range, s.name);
    AddNote(d, schema_decls_[s.name]->name_range, "first defined here");
    return;
  }
  schema_decls_[s.name] = &s;
  Record(sema::Symbol::Kind::Schema, s.name, s.name_range, s.name_range);
  if (!s.version.empty() && !IsSemver(ast::Unquote(s.version))) {
    Error<Msg::NotSemver>(s.version_range, s.version);
  }
  auto& signals = model_.schemas[s.name];
  std::set<std::string> valuesets;
  for (const auto& item : s.items) {
    if (item.valueset) valuesets.insert(item.valueset->name);
  }
  for (const auto& item : s.items) {
    if (item.valueset) {
      if (item.valueset->codes.empty()) {
        Error<Msg::EmptyValueSet>(item.valueset->range, item.valueset->name);
      }
      continue;
    }
    if (!item.signal) continue;
    const ast::SignalDecl& sig = *item.signal;
    if (auto it = signals.find(sig.name); it != signals.end()) {
      auto* d = Error<Msg::Redefinition>(sig.name_range, sig.name);
      AddNote(d, it->second.decl->name_range, "first defined here");
      continue;
    }
    SignalInfo info;
    info.decl = &sig;
    info.schema = s.name;
    info.type = ValueType(sig, valuesets);
    if (sig.has_plausible) {
      if (info.type.kind != TypeKind::Quantity && !info.type.IsNumeric()) {
        Error<Msg::PlausibleNotNumeric>(sig.plausible_range, sig.name, ToString(info.type));
      } else {
        info.plausible_low = Number(sig.plausible_low, sig.plausible_range);
        info.plausible_high = Number(sig.plausible_high, sig.plausible_range);
        if (info.plausible_low && info.plausible_high && *info.plausible_low > *info.plausible_high) {
          Error<Msg::PlausibleEmpty>(sig.plausible_range, sig.name, sig.plausible_low, sig.plausible_high);
        }
      }
    }
    for (const auto& conv : sig.conversions) {
      auto u = Unit(conv.unit, conv.unit_range);
      auto f = Number(conv.factor, conv.factor_range);
      if (info.type.kind != TypeKind::Quantity) {
        Error<Msg::ConvertNotQuantity>(conv.range);
      } else if (u && u->CommensurableWith(info.type.unit)) {
        Error<Msg::ConvertByUcum>(conv.unit_range, conv.unit, info.type.unit.text);
      } else if (f && f->raw() <= 0) {
        Error<Msg::ConvertFactorNotPositive>(conv.factor_range);
      } else if (u && f) {
        info.conversions.emplace_back(*u, *f);
      }
    }
    if (!sig.kind.empty() && sig.kind != "order") Error<Msg::UnknownRecordKind>(sig.kind_range, sig.kind);
    for (const auto& g : sig.codes) {
      for (const auto& c : g.codes) {
        // A code may map to one signal per kind of record (an observation's, an order's).
        std::string key = sig.kind + "|" + g.system + "|" + ast::Unquote(c);
        auto [it, fresh] = codes_.emplace(key, &sig);
        if (!fresh && it->second != &sig) {
          auto* d = Error<Msg::CodeMappedTwice>(g.range, g.system, c, it->second->name, sig.name);
          AddNote(d, it->second->name_range, "`" + it->second->name + "` is declared here");
        }
      }
    }
    RecordSignal(sig.name, sig.name_range, &signals.emplace(sig.name, std::move(info)).first->second);
  }
}

Type Checker::ValueType(const ast::SignalDecl& sig, const std::set<std::string>& valuesets) {
  using VK = ast::ValueType::Kind;
  switch (sig.type.kind) {
    case VK::None: return Type::Of(TypeKind::Error);
    case VK::Quantity: {
      auto u = Unit(sig.type.unit, sig.type.unit_range);
      return u ? Type::Quantity(*u) : Type::Of(TypeKind::Error);
    }
    case VK::Boolean: return Type::Of(TypeKind::Boolean);
    case VK::Integer: return Type::Of(TypeKind::Integer);
    case VK::Decimal: return Type::Of(TypeKind::Decimal);
    case VK::Text: return Type::Of(TypeKind::Text);
    case VK::Code:
      if (!sig.type.valueset.empty() && !valuesets.count(sig.type.valueset)) {
        Error<Msg::UnknownValueSet>(sig.type.range, sig.type.valueset);
      }
      return Type::Of(TypeKind::Code);
    case VK::Enum: {
      Type t = Type::Of(TypeKind::Enum);
      t.enum_name = sig.name;
      std::set<std::string> seen;
      for (size_t i = 0; i < sig.type.members.size(); ++i) {
        if (!seen.insert(sig.type.members[i]).second) {
          Error<Msg::Redefinition>(sig.type.member_ranges[i], sig.type.members[i]);
        }
      }
      t.members = sig.type.members;
      return t;
    }
  }
  return Type::Of(TypeKind::Error);
}

std::optional<Decimal> Checker::DurationSeconds(const Expr& e, const ExprInfo& info, const char* what) {
  if (info.type.IsError()) return std::nullopt;
  if (!info.type.IsDuration() || !info.constant) {
    Error<Msg::WindowNotDuration>(e.range, what, ToString(info.type));
    return std::nullopt;
  }
  auto s = stdlib::Convert(*info.constant, info.type.unit, *stdlib::ParseUnit("s"));
  if (!s || s->raw() <= 0) {
    Error<Msg::WindowNotPositive>(e.range, what);
    return std::nullopt;
  }
  return s;
}

void Checker::Ruleset(const ast::Ruleset& rs) {
  RulesetPolicy(rs);
  if (!rs.retention) return;
  Scope none;
  ExprInfo info = Check(*rs.retention, none);
  auto secs = DurationSeconds(*rs.retention, info, "retention");
  if (secs && (!model_.retention_seconds || *secs < *model_.retention_seconds)) {
    model_.retention_seconds = secs;
    model_.retention_ruleset = rs.name;
    retention_text_ = rs.retention->text + (rs.retention->kind == ExprKind::Duration ? "" : " ") + rs.retention->unit;
  }
}

// A lifecycle status: one of the four, else an error with the closest as a fix-it.
void Checker::KnownStatus(const std::string& status, const SourceRange& range) {
  if (kStatuses.count(status)) return;
  auto* d = Error<Msg::UnknownStatus>(range, status);
  std::string sug = Suggest(status, {kStatuses.begin(), kStatuses.end()});
  if (!sug.empty() && d) d->fixes.push_back(diag::FixIt{range, sug});
}

// `live STATUS` and `approvals N including "ROLE" signed` of a rule set: the governance
// policy, declared by one rule set at most.
void Checker::RulesetPolicy(const ast::Ruleset& rs) {
  if (rs.live.empty() && rs.approvals.empty()) return;
  Model::Policy p;
  p.ruleset = rs.name;
  if (!rs.live.empty()) {
    KnownStatus(rs.live, rs.live_range);
    if (rs.live == "retired") Error<Msg::LiveRetired>(rs.live_range);
    p.live = rs.live;
  }
  if (!rs.approvals.empty()) {
    int n = 0;
    if (rs.approvals.size() > 3 || (n = std::stoi(rs.approvals)) < 1) {
      Error<Msg::ApprovalCount>(rs.approvals_range, rs.approvals);
    } else {
      p.approvals = n;
    }
    for (size_t i = 0; i < rs.roles.size(); ++i) {
      std::string role = ast::Unquote(rs.roles[i]);
      if (role.find_first_not_of(" \t") == std::string::npos) {
        Error<Msg::EmptyRole>(rs.role_ranges[i]);
      } else if (std::find(p.roles.begin(), p.roles.end(), role) != p.roles.end()) {
        Error<Msg::RoleTwice>(rs.role_ranges[i], role);
      } else {
        p.roles.push_back(role);
      }
    }
    if (static_cast<int>(p.roles.size()) > p.approvals) {
      Error<Msg::MoreRolesThanApprovals>(rs.approvals_range, p.roles.size(), p.approvals);
    }
    p.signed_approvals = rs.signed_approvals;
  }
  if (!model_.policy.ruleset.empty()) {
    auto* d = Error<Msg::PolicyTwice>(rs.name_range, rs.name, model_.policy.ruleset);
    AddNote(d, policy_range_, "declared here");
    return;
  }
  model_.policy = p;
  policy_range_ = rs.name_range;
}

void Checker::Rule(const ast::Rule& r) {
  using K = ast::RuleItem::Kind;
  Scope scope;
  std::map<std::string, LetInfo> lets;
  scope.lets = &lets;
  if (r.synthetic) {  // a `cdr eval` expression: no metadata, no schemas
    for (const auto& it : r.items) Check(*it.expr, scope);
    return;
  }
  RuleMetadata(r);
  rules_by_name_.emplace(r.name, &r);
  Record(sema::Symbol::Kind::Rule, r.name, r.name_range, r.name_range);
  model_.symbols.back().rule = &r;
  checked_rules_.insert(r.name);
  current_rule_ = &r;
  for (const auto& it : r.items) {
    if (it.kind == K::Status) KnownStatus(it.names[0], it.name_ranges[0]);
    if (it.kind == K::Approvals) Error<Msg::ApprovalsInRule>(it.range);
    if (it.kind == K::Uses) Uses(it, scope);
  }
  rule_signals_[&r] = scope.signals;
  Allowances(r);
  for (const auto& it : r.items) {
    if (it.kind == K::Let) {
      Let(r, it, scope);
    } else if (it.kind == K::When) {
      When(r, it, scope);
    } else if (it.kind == K::Suppress) {
      ExprInfo info = Check(*it.expr, scope);
      DurationSeconds(*it.expr, info, "`suppress`");
    }
  }
  for (const auto& [name, let] : lets) {
    if (!let.used && !referenced_lets_.count(r.name + "." + name)) {
      Error<Msg::UnusedLet>(let.item->name_ranges[0], name);
    }
  }
  std::vector<Allowance> allowances = std::move(allowances_);
  allowances_.clear();
  for (const auto& a : allowances) {
    if (!a.used) Error<Msg::UnusedAllow>(a.allow->name_ranges[0], a.allow->names[0], ast::Keyword(a.target->kind));
  }
}

// The rule's `allow` items: each names a safety finding, gives a reason, and stands right
// above a `let` or `when`.
void Checker::Allowances(const ast::Rule& r) {
  using K = ast::RuleItem::Kind;
  static const std::map<std::string, diag::Kind> kAllowable = {{"band-gap", diag::Kind::BandGap},
                                                               {"band-overlap", diag::Kind::BandOverlap},
                                                               {"threshold-out-of-range", diag::Kind::ThresholdOutOfRange}};
  allowances_.clear();
  for (size_t i = 0; i < r.items.size(); ++i) {
    const ast::RuleItem& it = r.items[i];
    if (it.kind != K::Allow) continue;
    const std::string& finding = it.names[0];
    auto k = kAllowable.find(finding);
    if (k == kAllowable.end()) {
      bool known = std::any_of(diag::AllKinds().begin(), diag::AllKinds().end(),
                               [&](const diag::KindInfo& info) { return info.name == finding; });
      if (known) {
        Error<Msg::AllowNotSafety>(it.name_ranges[0], finding);
      } else {
        auto* d = Error<Msg::AllowUnknownFinding>(it.name_ranges[0], finding);
        DidYouMean(d, finding, it.name_ranges[0], Keys(kAllowable));
      }
      continue;
    }
    std::string reason = ast::Unquote(it.strings[0]);
    if (reason.find_first_not_of(" \t") == std::string::npos) {
      Error<Msg::AllowNoReason>(it.string_ranges[0], finding);
    }
    if (i + 1 >= r.items.size() || (r.items[i + 1].kind != K::Let && r.items[i + 1].kind != K::When)) {
      Error<Msg::AllowNoTarget>(it.range);
      continue;
    }
    allowances_.push_back(Allowance{k->second, &it, &r.items[i + 1]});
  }
}

bool Checker::Allowed(diag::Kind kind, const SourceRange& r) {
  for (auto& a : allowances_) {
    const SourceRange& t = a.target->range;
    if (a.kind != kind || r.file != t.file || r.line < t.line || r.end_line > t.end_line) continue;
    a.used = true;
    return true;
  }
  return false;
}

// A rule's metadata: each single item once, the required ones present, a semantic
// version, and one rule per id and version.
void Checker::RuleMetadata(const ast::Rule& r) {
  using K = ast::RuleItem::Kind;
  std::map<K, const ast::RuleItem*> seen;
  for (const auto& it : r.items) {
    bool single = it.kind == K::Title || it.kind == K::Owner || it.kind == K::Status || it.kind == K::Suppress;
    if (single && seen.count(it.kind)) {
      auto* d = Error<Msg::MetadataRedefinition>(it.range, ast::Keyword(it.kind), r.name);
      AddNote(d, seen[it.kind]->range, "first given here");
    }
    seen.emplace(it.kind, &it);
  }
  std::string version = r.version.empty() ? "" : ast::Unquote(r.version);
  if (r.version.empty()) {
    Error<Msg::MissingMetadata>(r.name_range, r.name, "version");
  } else if (!IsSemver(version)) {
    Error<Msg::NotSemver>(r.version_range, r.version);
  }
  for (K k : {K::Title, K::Owner, K::Status}) {
    if (!seen.count(k)) Error<Msg::MissingMetadata>(r.name_range, r.name, ast::Keyword(k));
  }
  if (!seen.count(K::Cites)) Error<Msg::MissingCitation>(r.name_range, r.name);
  if (r.version.empty()) return;
  auto [it, fresh] = rules_.emplace(r.name + "@" + version, &r);
  if (!fresh) {
    auto* d = Error<Msg::DuplicateRule>(r.name_range, r.name, version);
    AddNote(d, it->second->name_range, "first defined here");
  }
}

// `uses S, T`: the signals of those schemas come into the rule's scope.
void Checker::Uses(const ast::RuleItem& it, Scope& scope) {
  for (size_t i = 0; i < it.names.size(); ++i) {
    auto s = model_.schemas.find(it.names[i]);
    if (s == model_.schemas.end()) {
      auto* d = Error<Msg::UnknownSchema>(it.name_ranges[i], it.names[i]);
      DidYouMean(d, it.names[i], it.name_ranges[i], Keys(model_.schemas));
      continue;
    }
    scope.schema_names.push_back(it.names[i]);
    Record(sema::Symbol::Kind::Schema, it.names[i], it.name_ranges[i], schema_decls_[it.names[i]]->name_range);
    for (const auto& [n, info] : s->second) scope.signals.emplace(n, &info);
  }
}

// `let NAME = EXPR`: a new name, neither another let's nor a signal's.
void Checker::Let(const ast::Rule& r, const ast::RuleItem& it, Scope& scope) {
  const std::string& name = it.names[0];
  ExprInfo info = Check(*it.expr, scope);
  if (auto prev = scope.lets->find(name); prev != scope.lets->end()) {
    auto* d = Error<Msg::Redefinition>(it.name_ranges[0], name);
    AddNote(d, prev->second.item->name_ranges[0], "first defined here");
    return;
  }
  if (auto sig = scope.signals.find(name); sig != scope.signals.end()) {
    auto* d = Error<Msg::Redefinition>(it.name_ranges[0], name);
    AddNote(d, sig->second->decl->name_range, "`" + name + "` is a signal of schema `" + sig->second->schema + "`");
    return;
  }
  // Used above its definition (an error there already): not also an unused let.
  scope.lets->emplace(name, LetInfo{&it, info, used_before_definition_.count(&it) > 0});
  RecordLet(r, it, it.name_ranges[0]);
  rule_lets_[&r].emplace(name, info.type);
  rule_let_items_[&r].emplace(name, &it);
}

// `when C alert SEVERITY "message"`: a boolean condition that a missing input cannot
// silently block, a known severity, and a message naming lets.
void Checker::When(const ast::Rule& r, const ast::RuleItem& it, Scope& scope) {
  ExprInfo info = Check(*it.expr, scope);
  if (!info.type.IsError() && info.type.kind != TypeKind::Boolean && info.type.kind != TypeKind::Null) {
    Error<Msg::WhenNotBoolean>(it.expr->range, ToString(info.type));
  }
  if (info.unshielded_arith && info.arith_site) {
    auto* d = Error<Msg::UnknownBlocksAlert>(info.arith_site->range, Spelling(info.arith_site->op));
    AddNote(d, it.range, "the alert is here");
  }
  if (!kSeverities.count(it.names[0])) {
    auto* d = Error<Msg::UnknownSeverity>(it.name_ranges[0], it.names[0]);
    std::string sug = Suggest(it.names[0], {kSeverities.begin(), kSeverities.end()});
    if (!sug.empty() && d) d->fixes.push_back(diag::FixIt{it.name_ranges[0], sug});
  }
  Message(r, it, *scope.lets);
}


// Checks `{name}` references of an alert message; marks those lets used.
void Checker::Message(const ast::Rule& r, const ast::RuleItem& it, std::map<std::string, LetInfo>& lets) {
  const std::string& raw = it.message;
  int32_t col = it.message_range.column;  // column of the opening quote
  int32_t cp = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if ((c & 0xC0) != 0x80) ++cp;
    if (c == '\\') {
      ++i;
      ++cp;
      continue;
    }
    if (c != '{') continue;
    size_t close = raw.find('}', i);
    if (close == std::string::npos) break;
    std::string name = raw.substr(i + 1, close - i - 1);
    SourceRange range = it.message_range;
    range.column = col + cp - 1;
    range.end_column = range.column + source::CodePoints(name) + 2;
    std::string spec;  // `{name:.N}`
    if (size_t colon = name.find(':'); colon != std::string::npos) {
      spec = name.substr(colon + 1);
      name.resize(colon);
      bool ok = spec.size() == 2 && spec[0] == '.' && spec[1] >= '0' && spec[1] <= '8';
      if (!ok) {
        auto* d = Error<Msg::MessageFormatSpec>(range, name + ":" + spec);
        if (d && spec.size() >= 2 && spec[0] == '.' && std::isdigit(static_cast<unsigned char>(spec[1]))) {
          AddNote(d, {}, "a decimal has 8 places: `.8` shows them all");
        }
      }
    }
    if (auto l = lets.find(name); l != lets.end()) {
      l->second.used = true;
      SourceRange inner = range;
      inner.column += 1;
      inner.end_column = inner.column + source::CodePoints(name);
      RecordLet(r, *l->second.item, inner);
      const Type& t = l->second.info.type;
      if (!spec.empty() && !t.IsError() && !t.IsNumeric() && t.kind != TypeKind::Quantity) {
        Error<Msg::MessageFormatType>(range, name + ":" + spec, name, ToString(t));
      }
    } else {
      auto* d = Error<Msg::UndefinedMessageName>(range, name, r.name);
      std::vector<std::string> names;
      for (const auto& [n, _] : lets) names.push_back(n);
      std::string sug = Suggest(name, names);
      if (!sug.empty() && d) {
        AddNote(d, {}, "did you mean `" + sug + "`?");
        SourceRange inner = range;
        inner.column += 1;
        inner.end_column = inner.column + source::CodePoints(name);
        d->fixes.push_back(diag::FixIt{inner, sug});
      }
    }
    cp += source::CodePoints(std::string_view(raw).substr(i + 1, close - i));
    i = close;
  }
}

// The `rule.let` names an expression reads, with where they are written.
void Checker::References(const Expr& e, std::vector<std::pair<std::string, SourceRange>>& out) {
  auto add = [&](const std::string& name, const SourceRange& r) {
    // Responses to a rule's alerts are input, not computed by it: no order follows from them.
    size_t dot = name.find('.');
    if (dot != std::string::npos && !stdlib::IsResponseMember(name.substr(dot + 1))) out.emplace_back(name, r);
  };
  if (e.kind == ExprKind::Name || e.kind == ExprKind::Absence) {
    add(e.text, e.kind == ExprKind::Name ? e.range : e.name_range);
  }
  if (e.kind == ExprKind::Sequence) {
    add(e.text, e.name_range);
    add(e.name2, e.name2_range);
  }
  for (const auto& k : e.kids) References(*k, out);
  for (const auto& a : e.args) {
    if (a.value) References(*a.value, out);
    if (a.window) References(*a.window, out);
  }
  for (const auto& row : e.rows) {
    if (row.value) References(*row.value, out);
  }
}

// The rules in file order, except that a rule comes after every rule whose lets it
// reads. A cycle is an error: no order could compute it.
std::vector<const ast::Rule*> Checker::OrderRules(const std::vector<const ast::Rule*>& rules) {
  std::multimap<std::string, const ast::Rule*> by_name;
  for (const ast::Rule* r : rules) by_name.emplace(r->name, r);
  std::map<const ast::Rule*, int> state;  // 1: being ordered, 2: done
  std::vector<const ast::Rule*> order, path;
  std::function<void(const ast::Rule*)> visit = [&](const ast::Rule* r) {
    if (state[r] == 2) return;
    state[r] = 1;
    path.push_back(r);
    std::vector<std::pair<std::string, SourceRange>> refs;
    for (const auto& it : r->items) {
      if (it.expr) References(*it.expr, refs);
    }
    for (const auto& [name, range] : refs) {
      referenced_lets_.insert(name);
      std::string producer = name.substr(0, name.find('.'));
      auto [lo, hi] = by_name.equal_range(producer);
      for (auto q = lo; q != hi; ++q) {
        if (state[q->second] == 1) {
          std::string cycle;
          auto from = std::find(path.begin(), path.end(), q->second);
          for (auto p = from; p != path.end(); ++p) cycle += (*p)->name + " -> ";
          Error<Msg::RuleCycle>(range, name, cycle + q->second->name);
        } else {
          visit(q->second);
        }
      }
    }
    path.pop_back();
    state[r] = 2;
    order.push_back(r);
  };
  for (const ast::Rule* r : rules) visit(r);
  return order;
}

// The derived signal `rule.let`: every evaluation point of that rule at which the let is
// known is an event of it, at the point's time, with the let's value. Null (after an
// error) when the name does not resolve.
const SignalInfo* Checker::Derived(const std::string& name, const SourceRange& r, Scope& scope) {
  if (auto it = scope.signals.find(name); it != scope.signals.end()) return it->second;
  size_t dot = name.find('.');
  std::string rule = name.substr(0, dot), let = name.substr(dot + 1);
  if (stdlib::IsResponseMember(let)) return Responses(name, rule, r, scope);
  auto [lo, hi] = rules_by_name_.equal_range(rule);
  if (lo == hi) {
    if (!checked_rules_.count(rule) && std::any_of(model_.rule_order.begin(), model_.rule_order.end(),
                                                   [&](const ast::Rule* x) { return x->name == rule; })) {
      return nullptr;  // a rule in a cycle, reported as such
    }
    auto* d = Error<Msg::UnknownRuleOfLet>(r, name, rule);
    std::vector<std::string> names;
    for (const ast::Rule* x : model_.rule_order) {
      if (!x->synthetic) names.push_back(x->name);
    }
    std::string sug = Suggest(rule, names);
    if (sug.empty()) {
      AddNote(d, {}, "a rule reads the lets of the rules checked with it; pass their files too (or the whole directory)");
    } else if (d) {
      AddNote(d, {}, "did you mean `" + sug + "." + let + "`?");
      d->fixes.push_back(diag::FixIt{r, sug + "." + let});
    }
    return nullptr;
  }
  if (std::next(lo) != hi) {
    auto* d = Error<Msg::AmbiguousRuleOfLet>(r, name, rule);
    for (auto q = lo; q != hi; ++q) AddNote(d, q->second->name_range, "a version of `" + rule + "` is here");
    return nullptr;
  }
  if (lo->second == current_rule_) return nullptr;  // reads itself: reported as a cycle
  const auto& lets = rule_let_items_[lo->second];
  auto l = lets.find(let);
  if (l == lets.end()) {
    auto* d = Error<Msg::UnknownLetOfRule>(r, rule, let);
    std::vector<std::string> names = Keys(lets);
    std::string sug = Suggest(let, names);
    if (!sug.empty() && d) {
      AddNote(d, {}, "did you mean `" + rule + "." + sug + "`?");
      d->fixes.push_back(diag::FixIt{r, rule + "." + sug});
    }
    return nullptr;
  }
  const Type& t = rule_lets_[lo->second][let];
  if (t.IsError()) return nullptr;
  if (t.kind != TypeKind::Boolean && !t.IsNumeric() && t.kind != TypeKind::Quantity) {
    auto* d = Error<Msg::LetNotReadable>(r, name, ToString(t));
    AddNote(d, l->second->name_ranges[0], "the `let` is here");
    return nullptr;
  }
  auto [info, fresh] = model_.derived.try_emplace(name);
  if (fresh) {
    ast::SignalDecl& decl = model_.derived_decls.emplace_back();
    decl.name = name;
    decl.range = l->second->range;
    decl.name_range = l->second->name_ranges[0];
    info->second.decl = &decl;
    info->second.schema = "rule " + rule;
    info->second.type = t;
    info->second.rule = rule;
    info->second.let = let;
  }
  scope.signals.emplace(name, &info->second);
  return &info->second;
}

// The responses to rule `rule`'s alerts of one kind (`news2.acknowledged`): input events
// (docs/events.md, "Alert responses"), a text signal whose value is who responded. Any
// rule may read them, its own included: they are not computed by the rule.
const SignalInfo* Checker::Responses(const std::string& name, const std::string& rule, const SourceRange& r,
                                     Scope& scope) {
  std::vector<std::string> names;
  const std::string member = name.substr(rule.size() + 1);
  for (const ast::Rule* x : model_.rule_order) {
    if (x->synthetic) continue;
    names.push_back(x->name);
    if (x->name != rule) continue;
    for (const auto& it : x->items) {
      if (it.kind != ast::RuleItem::Kind::Let || it.names[0] != member) continue;
      auto* d = Error<Msg::ResponsesHideLet>(r, name, rule, member);
      AddNote(d, it.name_ranges[0], "the `let` is here");
      return nullptr;
    }
  }
  if (std::find(names.begin(), names.end(), rule) == names.end()) {
    auto* d = Error<Msg::UnknownRuleOfLet>(r, name, rule);
    std::string sug = Suggest(rule, names);
    if (!sug.empty() && d) {
      std::string fixed = sug + name.substr(rule.size());
      AddNote(d, {}, "did you mean `" + fixed + "`?");
      d->fixes.push_back(diag::FixIt{r, fixed});
    }
    return nullptr;
  }
  auto [info, fresh] = model_.responses.try_emplace(name);
  if (fresh) {
    ast::SignalDecl& decl = model_.derived_decls.emplace_back();
    decl.name = name;
    decl.range = decl.name_range = r;
    info->second.decl = &decl;
    info->second.schema = "responses to rule " + rule;
    info->second.type = Type::Of(TypeKind::Text);
  }
  scope.signals.emplace(name, &info->second);
  return &info->second;
}

}  // namespace cdr::sema::checker
