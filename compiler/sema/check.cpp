// compiler/sema/check.cpp: resolves names against schemas, types every expression
// (units included), and runs the lint checks. Errors are collected, never thrown;
// an expression in error gets the Error type so one mistake does not cascade.
#include "compiler/sema/check.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "compiler/sema/lint.h"
#include "stdlib/functions.h"

namespace cdr::sema {
namespace {

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

const std::set<std::string> kSeverities = {"low", "medium", "high", "critical"};
const std::set<std::string> kStatuses = {"draft", "review", "approved", "retired"};

// Temporal words of CQL quantities, as UCUM units.
std::string TemporalUnit(const std::string& word) {
  static const std::map<std::string, std::string> m = {
      {"week", "wk"},  {"weeks", "wk"},    {"day", "d"},      {"days", "d"},
      {"hour", "h"},   {"hours", "h"},     {"minute", "min"}, {"minutes", "min"},
      {"second", "s"}, {"seconds", "s"},   {"millisecond", "ms"}, {"milliseconds", "ms"}};
  auto it = m.find(word);
  return it == m.end() ? word : it->second;
}

bool IsSemver(std::string_view v) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == start || (i - start > 1 && v[start] == '0')) return false;
    ++parts;
    if (parts == 3) break;
    if (i >= v.size() || v[i] != '.') return false;
    ++i;
  }
  if (i == v.size()) return true;
  if (v[i] != '-' && v[i] != '+') return false;
  ++i;
  if (i == v.size()) return false;
  for (; i < v.size(); ++i) {
    char c = v[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+')) return false;
  }
  return true;
}

SourceRange Point(const SourceRange& r) {
  SourceRange p = r;
  p.line = r.end_line;
  p.column = r.end_column;
  return p;
}

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

  Model Run() {
    for (const ast::File* f : files_) {
      for (const auto& d : f->decls) {
        if (d.schema) Schema(*d.schema);
      }
    }
    for (const ast::File* f : files_) {
      for (const auto& d : f->decls) {
        if (d.ruleset) Ruleset(*d.ruleset);
      }
    }
    // Rules and tests of a file with syntax errors are not checked: what the parser
    // recovered would only produce confusing follow-on errors. Its schemas still count.
    std::vector<const ast::Rule*> rules;
    for (const ast::File* f : files_) {
      if (!f->parsed_cleanly) continue;
      for (const auto& d : f->decls) {
        if (d.rule) rules.push_back(d.rule.get());
      }
    }
    // A rule that reads another rule's lets is checked (and later run) after that rule.
    model_.rule_order = OrderRules(rules);
    for (const ast::Rule* r : model_.rule_order) Rule(*r);
    for (const ast::File* f : files_) {
      if (!f->parsed_cleanly) continue;
      for (const auto& d : f->decls) {
        if (d.test) Test(*d.test);
      }
    }
    return std::move(model_);
  }

 private:
  // ---- helpers ------------------------------------------------------------

  template <Msg M>
  diag::Diagnostic* Error(const SourceRange& r, auto&&... args) {
    return diags_.Emit<M>(r, std::forward<decltype(args)>(args)...);
  }

  static void AddNote(diag::Diagnostic* d, const SourceRange& r, std::string msg) {
    if (d) d->notes.push_back(diag::Note{r, std::move(msg)});
  }

  // "did you mean" for a misspelt name: a note and a fix-it that replaces `r` with the
  // closest candidate. False when no candidate is close.
  static bool DidYouMean(diag::Diagnostic* d, const std::string& name, const SourceRange& r,
                         const std::vector<std::string>& candidates) {
    std::string sug = Suggest(name, candidates);
    if (sug.empty() || !d) return false;
    AddNote(d, {}, "did you mean `" + sug + "`?");
    d->fixes.push_back(diag::FixIt{r, sug});
    return true;
  }

  template <typename Map>
  static std::vector<std::string> Keys(const Map& m) {
    std::vector<std::string> out;
    for (const auto& [k, _] : m) out.push_back(k);
    return out;
  }

  std::optional<stdlib::Unit> Unit(const std::string& text, const SourceRange& r) {
    std::string why;
    auto u = stdlib::ParseUnit(text, &why);
    if (!u) {
      if (why == "unknown unit `" + text + "`") why = "no such UCUM unit";
      auto* d = Error<Msg::UnknownUnit>(r, text, why);
      std::string s = stdlib::SuggestUnit(text);
      if (!s.empty() && d) {
        AddNote(d, {}, "did you mean `" + s + "`?");
        d->fixes.push_back(diag::FixIt{r, "'" + s + "'"});
      }
    }
    return u;
  }

  std::optional<Decimal> Number(const std::string& text, const SourceRange& r, bool negated = false) {
    if (text.find('.') == std::string::npos) {
      // Integers are 32-bit, as CQL's Integer (docs/language.md); `-2147483648` is one.
      auto d = Decimal::Parse(text);
      if (!d || d->raw() / Decimal::kOne > kMaxInteger + (negated ? 1 : 0)) {
        Error<Msg::IntegerOutOfRange>(r, text);
        return std::nullopt;
      }
      return d;
    }
    auto d = Decimal::Parse(text);
    if (!d) {
      size_t dot = text.find('.');
      bool too_precise = dot != std::string::npos && text.size() - dot - 1 > Decimal::kScale;
      if (too_precise) {
        Error<Msg::DecimalTooPrecise>(r, text);
      } else {
        Error<Msg::DecimalOutOfRange>(r, text);
      }
    }
    return d;
  }

  // ---- schemas -------------------------------------------------------------

  void Schema(const ast::Schema& s) {
    if (schema_decls_.count(s.name)) {
      auto* d = Error<Msg::SchemaRedefinition>(s.name_range, s.name);
      AddNote(d, schema_decls_[s.name]->name_range, "first defined here");
      return;
    }
    schema_decls_[s.name] = &s;
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
      for (const auto& g : sig.codes) {
        for (const auto& c : g.codes) {
          std::string key = g.system + "|" + ast::Unquote(c);
          auto [it, fresh] = codes_.emplace(key, &sig);
          if (!fresh && it->second != &sig) {
            auto* d = Error<Msg::CodeMappedTwice>(g.range, g.system, c, it->second->name, sig.name);
            AddNote(d, it->second->name_range, "`" + it->second->name + "` is declared here");
          }
        }
      }
      signals.emplace(sig.name, std::move(info));
    }
  }

  Type ValueType(const ast::SignalDecl& sig, const std::set<std::string>& valuesets) {
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

  // ---- rule sets -----------------------------------------------------------

  std::optional<Decimal> DurationSeconds(const Expr& e, const ExprInfo& info, const char* what) {
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

  void Ruleset(const ast::Ruleset& rs) {
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

  // ---- rules ---------------------------------------------------------------

  struct Scope {
    std::map<std::string, const SignalInfo*> signals;
    std::map<std::string, LetInfo>* lets = nullptr;
    std::vector<std::string> schema_names;
    bool in_sustained = false;
  };

  void Rule(const ast::Rule& r) {
    using K = ast::RuleItem::Kind;
    if (r.synthetic) {  // a `cdr eval` expression: no metadata, no schemas
      Scope scope;
      std::map<std::string, LetInfo> lets;
      scope.lets = &lets;
      for (const auto& it : r.items) Check(*it.expr, scope);
      return;
    }
    // Metadata.
    std::map<K, const ast::RuleItem*> seen;
    for (const auto& it : r.items) {
      bool single = it.kind == K::Title || it.kind == K::Owner || it.kind == K::Status || it.kind == K::Suppress;
      if (single && seen.count(it.kind)) {
        auto* d = Error<Msg::MetadataRedefinition>(it.range, ItemName(it.kind), r.name);
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
      if (!seen.count(k)) Error<Msg::MissingMetadata>(r.name_range, r.name, ItemName(k));
    }
    if (!seen.count(K::Cites)) Error<Msg::MissingCitation>(r.name_range, r.name);
    if (!r.version.empty()) {
      std::string key = r.name + "@" + version;
      auto [it, fresh] = rules_.emplace(key, &r);
      if (!fresh) {
        auto* d = Error<Msg::DuplicateRule>(r.name_range, r.name, version);
        AddNote(d, it->second->name_range, "first defined here");
      }
    }
    rules_by_name_.emplace(r.name, &r);
    checked_rules_.insert(r.name);
    current_rule_ = &r;

    Scope scope;
    std::map<std::string, LetInfo> lets;
    scope.lets = &lets;
    for (const auto& it : r.items) {
      if (it.kind == K::Status) {
        if (!kStatuses.count(it.names[0])) {
          Error<Msg::UnknownStatus>(it.name_ranges[0], it.names[0]);
        }
      } else if (it.kind == K::Uses) {
        for (size_t i = 0; i < it.names.size(); ++i) {
          auto s = model_.schemas.find(it.names[i]);
          if (s == model_.schemas.end()) {
            auto* d = Error<Msg::UnknownSchema>(it.name_ranges[i], it.names[i]);
            DidYouMean(d, it.names[i], it.name_ranges[i], Keys(model_.schemas));
            continue;
          }
          scope.schema_names.push_back(it.names[i]);
          for (const auto& [n, info] : s->second) scope.signals.emplace(n, &info);
        }
      }
    }
    rule_signals_[&r] = scope.signals;
    auto& rule_lets = rule_lets_[&r];
    for (const auto& it : r.items) {
      if (it.kind == K::Let) {
        const std::string& name = it.names[0];
        ExprInfo info = Check(*it.expr, scope);
        if (auto prev = lets.find(name); prev != lets.end()) {
          auto* d = Error<Msg::Redefinition>(it.name_ranges[0], name);
          AddNote(d, prev->second.item->name_ranges[0], "first defined here");
          continue;
        }
        if (auto sig = scope.signals.find(name); sig != scope.signals.end()) {
          auto* d = Error<Msg::Redefinition>(it.name_ranges[0], name);
          AddNote(d, sig->second->decl->name_range, "`" + name + "` is a signal of schema `" + sig->second->schema + "`");
          continue;
        }
        lets.emplace(name, LetInfo{&it, info, false});
        rule_lets.emplace(name, info.type);
        rule_let_items_[&r].emplace(name, &it);
      } else if (it.kind == K::When) {
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
        Message(r, it, lets);
      } else if (it.kind == K::Suppress) {
        ExprInfo info = Check(*it.expr, scope);
        DurationSeconds(*it.expr, info, "`suppress`");
      }
    }
    for (const auto& [name, let] : lets) {
      if (!let.used && !referenced_lets_.count(r.name + "." + name)) Error<Msg::UnusedLet>(let.item->name_ranges[0], name);
    }
  }

  static std::string ItemName(ast::RuleItem::Kind k) {
    static constexpr const char* kNames[] = {"title", "owner", "status", "cites", "approvals",
                                             "uses", "let", "when", "suppress"};
    return kNames[static_cast<int>(k)];
  }

  // Checks `{name}` references of an alert message; marks those lets used.
  void Message(const ast::Rule& r, const ast::RuleItem& it, std::map<std::string, LetInfo>& lets) {
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
      if (auto l = lets.find(name); l != lets.end()) {
        l->second.used = true;
      } else {
        auto* d = Error<Msg::UndefinedMessageName>(range, name, r.name);
        std::vector<std::string> names;
        for (const auto& [n, _] : lets) names.push_back(n);
        std::string sug = Suggest(name, names);
        if (!sug.empty() && d) {
          AddNote(d, {}, "did you mean `" + sug + "`?");
          SourceRange inner = range;
          inner.column += 1;
          inner.end_column -= 1;
          d->fixes.push_back(diag::FixIt{inner, sug});
        }
      }
      cp += source::CodePoints(std::string_view(raw).substr(i + 1, close - i));
      i = close;
    }
  }

  // ---- derived signals: one rule's `let` read by another as `rule.let` ----------

  // The `rule.let` names an expression reads, with where they are written.
  static void References(const Expr& e, std::vector<std::pair<std::string, SourceRange>>& out) {
    auto add = [&](const std::string& name, const SourceRange& r) {
      if (name.find('.') != std::string::npos) out.emplace_back(name, r);
    };
    if (e.kind == ExprKind::Name || e.kind == ExprKind::Absence) add(e.text, e.kind == ExprKind::Name ? e.range : e.name_range);
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
  std::vector<const ast::Rule*> OrderRules(const std::vector<const ast::Rule*>& rules) {
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
  const SignalInfo* Derived(const std::string& name, const SourceRange& r, Scope& scope) {
    if (auto it = scope.signals.find(name); it != scope.signals.end()) return it->second;
    size_t dot = name.find('.');
    std::string rule = name.substr(0, dot), let = name.substr(dot + 1);
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

  // ---- tests ---------------------------------------------------------------

  void Test(const ast::Test& t) {
    auto r = rules_by_name_.find(t.target);
    if (r == rules_by_name_.end()) {
      auto* d = Error<Msg::UnknownRule>(t.target_range, t.target);
      std::vector<std::string> names;
      for (const auto& [n, _] : rules_by_name_) names.push_back(n);
      std::string sug = Suggest(t.target, names);
      if (!sug.empty()) AddNote(d, {}, "did you mean `" + sug + "`?");
      return;
    }
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
      auto sig = scope.signals.find(s.signal);
      if (sig == scope.signals.end()) {
        UnknownSignal(s.signal, s.signal_range, scope);
        continue;
      }
      const Type& want = sig->second->type;
      if (!s.value) {
        // An entry in error only removes the event with its id: it needs no value.
        if (!want.IsError() && !sig->second->decl->is_event && s.status != "entered_in_error") {
          Error<Msg::TestNeedsValue>(s.signal_range, s.signal, ToString(want));
        }
        continue;
      }
      PlainFits(*s.value, want, sig->second->decl->name, sig->second->conversions);
    }
  }

  // Whether a plain value (of a test step) fits `want`, the type of `what`; reports why not.
  bool PlainFits(const ast::PlainValue& v, const Type& want, const std::string& what,
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

  void UnknownSignal(const std::string& name, const SourceRange& r, const Scope& scope) {
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

  // ---- expressions -----------------------------------------------------------

  const Expr* negated_literal_ = nullptr;  // the operand of a unary minus being checked

  ExprInfo Check(const Expr& e, Scope& scope) {
    ExprInfo info = CheckInner(e, scope);
    model_.exprs[&e] = info;
    return info;
  }

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

  ExprInfo CheckInner(const Expr& e, Scope& scope) {
    switch (e.kind) {
      case ExprKind::Error: return Err();
      case ExprKind::Bool: return Of(Type::Of(TypeKind::Boolean), false);
      case ExprKind::Null: return Of(Type::Of(TypeKind::Null), true);
      case ExprKind::Number: {
        auto d = Number(e.text, e.range, negated_literal_ == &e);
        if (!d) return Err();
        ExprInfo i = Of(Type::Of(e.text.find('.') == std::string::npos ? TypeKind::Integer : TypeKind::Decimal), false);
        i.constant = d;
        return i;
      }
      case ExprKind::Quantity:
      case ExprKind::Duration: {
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
      case ExprKind::Text: return Of(Type::Of(TypeKind::Text), false);
      case ExprKind::DateTime: return Of(Type::Of(TypeKind::DateTime), false);
      case ExprKind::Name: return Name(e, scope);
      case ExprKind::Paren: return Check(*e.kids[0], scope);
      case ExprKind::Unary: {
        if (e.op == O::Minus) negated_literal_ = e.kids[0].get();
        ExprInfo a = Check(*e.kids[0], scope);
        negated_literal_ = nullptr;
        if (a.type.IsError()) return Err();
        if (!a.type.IsNumeric() && a.type.kind != TypeKind::Quantity && a.type.kind != TypeKind::Null) {
          Error<Msg::UnaryNeedsNumber>(e.range, Spelling(e.op), ToString(a.type));
          return Err();
        }
        if (a.constant && e.op == O::Minus) a.constant = Decimal::FromRaw(-a.constant->raw());
        a.origin = nullptr;
        return a;
      }
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
      case ExprKind::Sustained: {
        bool outer = scope.in_sustained;
        scope.in_sustained = true;
        ExprInfo c = Check(*e.kids[0], scope);
        scope.in_sustained = outer;
        Boolean(*e.kids[0], c, "`for`");
        ExprInfo d = Check(*e.kids[1], scope);
        Window(*e.kids[1], d);
        return Of(Type::Of(TypeKind::Boolean), false);
      }
      case ExprKind::If: {
        ExprInfo c = Check(*e.kids[0], scope);
        Boolean(*e.kids[0], c, "`if`");
        ExprInfo a = Check(*e.kids[1], scope);
        ExprInfo b = Check(*e.kids[2], scope);
        return Join(a, b, *e.kids[2], "`if` branches");
      }
      case ExprKind::Case: return Case(e, scope);
      case ExprKind::Bands: return Bands(e, scope);
      case ExprKind::Absence: {
        Signal(e.text, e.name_range, scope);
        ExprInfo d = Check(*e.kids[0], scope);
        Window(*e.kids[0], d);
        return Of(Type::Of(TypeKind::Boolean), false);
      }
      case ExprKind::Sequence: {
        Signal(e.text, e.name_range, scope);
        Signal(e.name2, e.name2_range, scope);
        ExprInfo d = Check(*e.kids[0], scope);
        Window(*e.kids[0], d);
        return Of(Type::Of(TypeKind::Boolean), false);
      }
      case ExprKind::Call: return Call(e, scope);
      case ExprKind::As: return As(e, scope);
      case ExprKind::Step: {
        ExprInfo a = Check(*e.kids[0], scope);
        if (a.type.IsError()) return Err();
        if (!a.type.IsNumeric() && a.type.kind != TypeKind::Quantity && a.type.kind != TypeKind::Null) {
          Error<Msg::StepNeedsNumber>(e.range, Spelling(e.op), ToString(a.type));
          return Err();
        }
        a.constant.reset();
        a.origin = nullptr;
        a.may_be_unknown = true;  // at the end of the range
        return a;
      }
      case ExprKind::Limit: {
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
    }
    return Err();
  }

  // Integer ^ Integer is an Integer, unless the exponent is a negative constant (2 ^ -2
  // is 0.25, as in CQL); any decimal operand makes a Decimal.
  static TypeKind PowerKind(const ExprInfo& a, const ExprInfo& b) {
    bool ints = a.type.kind != TypeKind::Decimal && b.type.kind != TypeKind::Decimal;
    if (ints && b.constant && b.constant->raw() < 0) ints = false;
    return ints ? TypeKind::Integer : TypeKind::Decimal;
  }

  // CQL's type names as written after `as` and `minimum`/`maximum`.
  static TypeKind TypeNamed(const std::string& name) {
    if (name == "Integer") return TypeKind::Integer;
    if (name == "Decimal") return TypeKind::Decimal;
    if (name == "Boolean") return TypeKind::Boolean;
    if (name == "String") return TypeKind::Text;
    if (name == "Quantity") return TypeKind::Quantity;
    return TypeKind::Error;
  }

  // `x as T`: gives `null` a type; otherwise T must be x's type (or Decimal for an Integer).
  ExprInfo As(const Expr& e, Scope& scope) {
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

  void Boolean(const Expr& e, const ExprInfo& i, const std::string& what) {
    if (i.type.IsError() || i.type.kind == TypeKind::Boolean || i.type.kind == TypeKind::Null) return;
    Error<Msg::NeedsBoolean>(e.range, what, ToString(i.type));
  }

  void Window(const Expr& e, const ExprInfo& i) {
    auto secs = DurationSeconds(e, i, "a window");
    if (secs && model_.retention_seconds && *secs > *model_.retention_seconds) {
      auto* d = Error<Msg::WindowExceedsRetention>(e.range, "`" + Text(e) + "`", model_.retention_ruleset, retention_text_);
      AddNote(d, {}, "events older than the retention are evicted, so this window would silently see less");
    }
  }

  static std::string Text(const Expr& e) {
    if (e.kind == ExprKind::Duration) return e.text + e.unit;
    if (e.kind == ExprKind::Quantity) return e.text + " " + (e.quoted_unit ? "'" + e.unit + "'" : e.unit);
    return e.text;
  }

  const SignalInfo* Signal(const std::string& name, const SourceRange& r, Scope& scope) {
    auto it = scope.signals.find(name);
    if (it != scope.signals.end()) return it->second;
    if (name.find('.') != std::string::npos) return Derived(name, r, scope);
    if (scope.lets && scope.lets->count(name)) {
      Error<Msg::LetNotSignal>(r, name);
      return nullptr;
    }
    UnknownSignal(name, r, scope);
    return nullptr;
  }

  ExprInfo Name(const Expr& e, Scope& scope) {
    if (e.text.find('.') != std::string::npos && !Derived(e.text, e.range, scope)) return Err();
    if (scope.lets) {
      if (auto it = scope.lets->find(e.text); it != scope.lets->end()) {
        it->second.used = true;
        ExprInfo i = it->second.info;
        return i;
      }
    }
    if (auto it = scope.signals.find(e.text); it != scope.signals.end()) {
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
    std::vector<std::string> names = scope.lets ? Keys(*scope.lets) : std::vector<std::string>{};
    for (const auto& n : Keys(scope.signals)) names.push_back(n);
    auto* d = Error<Msg::UndefinedName>(e.range, e.text);
    DidYouMean(d, e.text, e.range, names);
    return Err();
  }

  // The common type of two branches (if, case, ??, bands rows).
  ExprInfo Join(const ExprInfo& a, const ExprInfo& b, const Expr& at, const std::string& what) {
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

  void BareNumber(const Expr& number, const Type& quantity, const std::string& subject) {
    std::string who = subject.empty() ? "the other side" : "`" + subject + "`";
    auto* d = Error<Msg::BareNumberCompared>(number.range, who, quantity.unit.text, number.text);
    if (d) {
      d->fixes.push_back(diag::FixIt{Point(number.range), " '" + quantity.unit.text + "'"});
    }
  }

  // Converts a constant to `to`'s unit (for lint and constant folding).
  static std::optional<Decimal> ConstantIn(const ExprInfo& i, const Type& to) {
    if (!i.constant) return std::nullopt;
    if (i.type.kind == TypeKind::Quantity && to.kind == TypeKind::Quantity) {
      return stdlib::Convert(*i.constant, i.type.unit, to.unit);
    }
    return i.constant;
  }

  ExprInfo Binary(const Expr& e, Scope& scope) {
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
    bool arith = op == O::Plus || op == O::Minus || op == O::Times || op == O::Divide || op == O::Div || op == O::Mod || op == O::Power;
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
    // Comparison and equality.
    bool equality = op == O::Equal || op == O::NotEqual || op == O::Equivalent || op == O::NotEquivalent;
    ExprInfo r = Of(Type::Of(TypeKind::Boolean), a.may_be_unknown || b.may_be_unknown);
    r.unshielded_arith = a.unshielded_arith || b.unshielded_arith;
    r.arith_site = a.unshielded_arith ? a.arith_site : b.arith_site;
    if (op == O::Equivalent || op == O::NotEquivalent) r.may_be_unknown = false;
    if (a.type.kind == TypeKind::Null || b.type.kind == TypeKind::Null) return r;
    if (a.type.IsNumeric() && b.type.IsNumeric()) return r;
    if (a.type.kind == TypeKind::Quantity || b.type.kind == TypeKind::Quantity) {
      if (a.type.kind == TypeKind::Quantity && b.type.kind == TypeKind::Quantity) {
        if (!a.type.unit.CommensurableWith(b.type.unit)) {
          Error<Msg::CompareDimensions>(e.range, Describe(*e.kids[0], a), a.type.unit.text, a.type.unit.dim.ToString(),
                                        b.type.unit.text, b.type.unit.dim.ToString());
          return Err();
        }
        Threshold(e, a, b);
        return r;
      }
      const Expr& num = a.type.kind == TypeKind::Quantity ? *e.kids[1] : *e.kids[0];
      const ExprInfo& q = a.type.kind == TypeKind::Quantity ? a : b;
      const ExprInfo& n = a.type.kind == TypeKind::Quantity ? b : a;
      if (n.type.IsNumeric() && (num.kind == ExprKind::Number || (num.kind == ExprKind::Unary && num.kids[0]->kind == ExprKind::Number))) {
        const Expr& lit = num.kind == ExprKind::Number ? num : *num.kids[0];
        const Expr& qe = a.type.kind == TypeKind::Quantity ? *e.kids[0] : *e.kids[1];
        BareNumber(lit, q.type, Subject(qe, q));
        return Err();
      }
      Error<Msg::CannotCompare>(e.range, ToString(a.type), ToString(b.type));
      return Err();
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
    Error<Msg::CannotCompare>(e.range, ToString(a.type), ToString(b.type));
    return Err();
  }

  // How a message names an expression: a name as written, else its signal.
  static std::string Subject(const Expr& e, const ExprInfo& i) {
    if (e.kind == ExprKind::Name) return e.text;
    if (e.kind == ExprKind::Paren) return Subject(*e.kids[0], i);
    return i.signal;
  }

  static std::string Describe(const Expr& e, const ExprInfo& i) {
    if (std::string s = Subject(e, i); !s.empty()) return "`" + s + "`";
    if (e.kind == ExprKind::Name) return "`" + e.text + "`";
    if (e.kind == ExprKind::Call) return "`" + e.text + "(...)`";
    return "the left side";
  }

  void EnumMember(const std::string& value, const SourceRange& r, const Type& en) {
    if (std::find(en.members.begin(), en.members.end(), value) != en.members.end()) return;
    auto* d = Error<Msg::UnknownEnumValue>(r, value, ToString(en));
    std::string sug = Suggest(value, en.members);
    if (!sug.empty() && d) {
      AddNote(d, {}, "did you mean '" + sug + "'?");
      d->fixes.push_back(diag::FixIt{r, "'" + sug + "'"});
    }
  }

  // Lint: a comparison of a signal's value with a constant outside its plausible range.
  void Threshold(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
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

  ExprInfo Arithmetic(const Expr& e, const ExprInfo& a, const ExprInfo& b) {
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
        BareNumber(*e.kids[1], ta, Subject(*e.kids[0], a));
        return Err();
      }
      if (tb.kind == TypeKind::Quantity && ta.IsNumeric() && e.kids[0]->kind == ExprKind::Number) {
        BareNumber(*e.kids[0], tb, Subject(*e.kids[1], b));
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

  ExprInfo Case(const Expr& e, Scope& scope) {
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

  // A band bound as a raw decimal in the subject's unit.
  std::optional<Decimal> BandNumber(const ast::PlainValue& v, const Type& subject) {
    if (v.kind != ast::PlainValue::Kind::Number) {
      Error<Msg::BandBoundNotNumber>(v.range, v.text, ToString(subject));
      return std::nullopt;
    }
    auto d = Number(v.text, v.range);
    if (!d) return std::nullopt;
    if (v.unit.empty()) return d;  // bare bounds are in the subject's unit
    if (subject.kind != TypeKind::Quantity) {
      Error<Msg::BandBoundUnit>(v.unit_range, ToString(subject), v.unit);
      return std::nullopt;
    }
    auto u = Unit(v.unit, v.unit_range);
    if (!u) return std::nullopt;
    if (!u->CommensurableWith(subject.unit)) {
      Error<Msg::BandBoundDimension>(v.unit_range, subject.unit.text, subject.unit.dim.ToString(), v.unit,
                                     u->dim.ToString());
      return std::nullopt;
    }
    return stdlib::Convert(*d, *u, subject.unit);
  }

  ExprInfo Bands(const Expr& e, Scope& scope) {
    ExprInfo subject = Check(*e.kids[0], scope);
    std::optional<ExprInfo> result;
    for (const auto& row : e.rows) {
      ExprInfo v = Check(*row.value, scope);
      result = result ? Join(*result, v, *row.value, "band values") : v;
    }
    if (!result) return Err();
    ExprInfo out = *result;
    out.constant.reset();
    out.origin = nullptr;
    out.may_be_unknown = out.may_be_unknown || subject.may_be_unknown;
    out.unshielded_arith = out.unshielded_arith || subject.unshielded_arith;
    if (subject.type.IsError()) return out;
    const Type& st = subject.type;
    if (st.IsNumeric() || st.kind == TypeKind::Quantity) {
      std::vector<std::optional<BandInterval>> rows;
      bool ok = true;
      // The comparisons of the rows, to find where two rows meet at a value: `<= a` with
      // `> a` puts a boundary value in the band below, `< a` with `>= a` in the band above
      // (docs/rules.md: one convention per table).
      struct Bound {
        const ast::BandRow* row;
        int64_t raw;
        ast::Operator op;
        std::string text;
      };
      std::vector<Bound> bounds;
      for (const auto& row : e.rows) {
        using RK = ast::BandRow::Kind;
        if (row.kind == RK::Else) {
          rows.push_back(std::nullopt);
          continue;
        }
        int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
        int64_t step = st.kind == TypeKind::Integer ? Decimal::kOne : 1;
        if (row.kind == RK::Range || row.kind == RK::Exact) {
          auto l = BandNumber(row.low, st);
          auto h = row.kind == RK::Range ? BandNumber(row.high, st) : l;
          if (!l || !h) {
            ok = false;
            continue;
          }
          lo = l->raw();
          hi = h->raw();
          if (lo > hi) {
            Error<Msg::BandRowEmpty>(row.range, l->ToString(), h->ToString());
          }
        } else {
          for (const auto& b : row.bounds) {
            auto v = BandNumber(b.value, st);
            if (!v) {
              ok = false;
              continue;
            }
            if (b.op == O::Less) hi = std::min(hi, v->raw() - step);
            if (b.op == O::LessEqual) hi = std::min(hi, v->raw());
            if (b.op == O::Greater) lo = std::max(lo, v->raw() + step);
            if (b.op == O::GreaterEqual) lo = std::max(lo, v->raw());
            bounds.push_back(Bound{&row, v->raw(), b.op, v->ToShortString()});
          }
        }
        rows.push_back(BandInterval{lo, hi});
      }
      const Bound *below = nullptr, *above = nullptr;  // the row opening the band above each kind of meeting
      for (const Bound& up : bounds) {
        for (const Bound& low : bounds) {
          if (up.raw != low.raw || up.row == low.row) continue;
          if (up.op == O::LessEqual && low.op == O::Greater && !below) below = &low;
          if (up.op == O::Less && low.op == O::GreaterEqual && !above) above = &low;
        }
      }
      if (below && above) {
        const Bound* later = below->row > above->row ? below : above;  // rows are one vector: source order
        Error<Msg::BandConvention>(later->row->range, "`" + below->text + "` (`> " + below->text + "`)",
                                   "`" + above->text + "` (`>= " + above->text + "`)");
      }
      if (ok) {
        int64_t dlo = std::numeric_limits<int64_t>::min(), dhi = std::numeric_limits<int64_t>::max();
        if (subject.origin && subject.origin->plausible_low && subject.origin->plausible_high) {
          dlo = subject.origin->plausible_low->raw();
          dhi = subject.origin->plausible_high->raw();
        }
        bool total = LintNumericBands(e, rows, dlo, dhi, st.kind == TypeKind::Integer ? Decimal::kOne : 1, diags_);
        if (!total) out.may_be_unknown = true;
      } else {
        out.may_be_unknown = true;
      }
      return out;
    }
    // Enum, text and boolean subjects: exact rows only.
    std::map<std::string, size_t> covered;  // value -> first row
    bool has_else = false;
    for (size_t i = 0; i < e.rows.size(); ++i) {
      const auto& row = e.rows[i];
      if (row.kind == ast::BandRow::Kind::Else) {
        has_else = true;
        continue;
      }
      if (row.kind != ast::BandRow::Kind::Exact) {
        Error<Msg::BandRangeNotNumeric>(row.range, ToString(st));
        continue;
      }
      const auto& v = row.low;
      bool fits = (st.kind == TypeKind::Boolean && v.kind == ast::PlainValue::Kind::Bool) ||
                  ((st.kind == TypeKind::Enum || st.kind == TypeKind::Text || st.kind == TypeKind::Code) &&
                   v.kind == ast::PlainValue::Kind::Text);
      if (!fits) {
        Error<Msg::BandValueMismatch>(v.range, v.text, ToString(st));
        continue;
      }
      if (st.kind == TypeKind::Enum) EnumMember(v.text, v.range, st);
      if (auto [it, fresh] = covered.emplace(v.text, i); !fresh) {
        Error<Msg::BandOverlap>(row.range, i + 1, it->second + 1, "`" + v.text + "`");
      }
    }
    if (!has_else) {
      std::vector<std::string> missing;
      if (st.kind == TypeKind::Enum) {
        for (const auto& m : st.members) {
          if (!covered.count(m)) missing.push_back("'" + m + "'");
        }
      } else if (st.kind == TypeKind::Boolean) {
        for (const char* m : {"true", "false"}) {
          if (!covered.count(m)) missing.push_back(m);
        }
      } else {
        missing.push_back("values not listed (add an `else` row)");
      }
      if (!missing.empty()) {
        std::string list = missing[0];
        for (size_t i = 1; i < missing.size(); ++i) list += ", " + missing[i];
        Error<Msg::BandGap>(e.range, list);
        out.may_be_unknown = true;
      }
    }
    return out;
  }

  ExprInfo Call(const Expr& e, Scope& scope) {
    const FunctionInfo* f = stdlib::FindFunction(e.text);
    if (!f) {
      auto* d = Error<Msg::UnknownFunction>(e.name_range, e.text);
      std::vector<std::string> names;
      for (const auto& fn : stdlib::Functions()) names.emplace_back(fn.name);
      DidYouMean(d, e.text, e.name_range, names);
      for (const auto& a : e.args) {
        if (a.value && a.value->kind != ExprKind::Name) Check(*a.value, scope);
      }
      return Err();
    }
    int n = static_cast<int>(e.args.size());
    if (n < f->min_args || n > f->max_args) {
      std::string takes = f->min_args == f->max_args
                              ? fmt::format("{} argument{}", f->min_args, f->min_args == 1 ? "" : "s")
                              : fmt::format("{} to {} arguments", f->min_args, f->max_args);
      Error<Msg::ArgumentCount>(e.range, e.text, takes, n);
      return Err();
    }
    ExprInfo r = f->aggregate ? AggregateCall(e, *stdlib::AsAggregate(f->id), scope) : ScalarCall(e, *f, scope);
    r.function = f->id;
    return r;
  }

  ExprInfo ScalarCall(const Expr& e, const FunctionInfo& f, Scope& scope) {
    for (const auto& a : e.args) {
      if (a.window) Error<Msg::NotAnAggregate>(a.window->range, e.text);
    }
    std::vector<ExprInfo> args;
    for (const auto& a : e.args) args.push_back(Check(*a.value, scope));
    for (const auto& a : args) {
      if (a.type.IsError()) return Err();
    }
    bool unknown = false;
    for (const auto& a : args) unknown = unknown || a.may_be_unknown;
    switch (f.id) {
      case Function::Abs:
      case Function::Round:
      case Function::Floor:
      case Function::Ceiling:
      case Function::Truncate: {
        const Type& t = args[0].type;
        if (!t.IsNumeric() && t.kind != TypeKind::Quantity) {
          Error<Msg::FunctionNeedsNumber>(e.args[0].value->range, e.text, ToString(t));
          return Err();
        }
        if (args.size() == 2 && args[1].type.kind != TypeKind::Integer) {
          Error<Msg::RoundPrecision>(e.args[1].value->range, ToString(args[1].type));
          return Err();
        }
        Type r = t;
        if ((f.id == Function::Floor || f.id == Function::Ceiling || f.id == Function::Truncate) && t.IsNumeric()) {
          r = Type::Of(TypeKind::Integer);
        }
        if (f.id == Function::Round && t.IsNumeric()) r = Type::Of(TypeKind::Decimal);  // as in CQL
        return Of(r, unknown);
      }
      case Function::Ln:
      case Function::Exp:
      case Function::Log:
      case Function::Power: {
        for (size_t k = 0; k < args.size(); ++k) {
          const Type& t = args[k].type;
          if (!t.IsNumeric() && t.kind != TypeKind::Null) {
            Error<Msg::FunctionNeedsNumbers>(e.args[k].value->range, e.text, ToString(t));
            return Err();
          }
        }
        return Of(Type::Of(f.id == Function::Power ? PowerKind(args[0], args[1]) : TypeKind::Decimal), true);
      }
      case Function::IsNull:
      case Function::IsTrue:
      case Function::IsFalse:
        if (f.id != Function::IsNull) Boolean(*e.args[0].value, args[0], "`" + e.text + "`");
        return Of(Type::Of(TypeKind::Boolean), false);
      case Function::Coalesce: {
        ExprInfo r = args[0];
        for (size_t i = 1; i < args.size(); ++i) r = Join(r, args[i], *e.args[i].value, "arguments of `coalesce`");
        if (r.type.IsError()) return r;
        r.may_be_unknown = true;
        for (const auto& a : args) r.may_be_unknown = r.may_be_unknown && a.may_be_unknown;
        r.unshielded_arith = false;
        return r;
      }
      case Function::ValueIn: {
        if (args[0].type.kind != TypeKind::Quantity) {
          Error<Msg::ValueInNeedsQuantity>(e.args[0].value->range, ToString(args[0].type));
          return Err();
        }
        const Expr& u = *e.args[1].value;
        if (u.kind != ExprKind::Text) {
          Error<Msg::ValueInUnit>(u.range);
          return Err();
        }
        auto unit = Unit(ast::Unquote(u.text), u.range);
        if (!unit) return Err();
        if (!unit->CommensurableWith(args[0].type.unit)) {
          Error<Msg::ValueInDimension>(u.range, args[0].type.unit.text, unit->text);
          return Err();
        }
        return Of(Type::Of(TypeKind::Decimal), unknown);
      }
#define AGGREGATE(id, name, summary) case Function::id:
#include "stdlib/functions.def"
        break;  // typed by AggregateCall
    }
    return Err();
  }

  ExprInfo AggregateCall(const Expr& e, Aggregate f, Scope& scope) {
    const ast::CallArg& arg = e.args[0];
    if (arg.window) {
      ExprInfo w = Check(*arg.window, scope);
      Window(*arg.window, w);
    }
    if (arg.value->kind != ExprKind::Name) {
      Error<Msg::AggregateTakesSignal>(arg.value->range, e.text, e.text);
      return Err();
    }
    const SignalInfo* s = Signal(arg.value->text, arg.value->range, scope);
    if (!s) return Err();
    const Type& t = s->type;
    ExprInfo r;
    r.signal = s->decl->name;
    switch (f) {
      case Aggregate::Count:
        r.type = Type::Of(TypeKind::Integer);
        return r;
      case Aggregate::Exists:
        r.type = Type::Of(TypeKind::Boolean);
        return r;
      case Aggregate::TimeSince:
        r.type = Type::Quantity(*stdlib::ParseUnit("min"));
        r.may_be_unknown = true;
        return r;
      case Aggregate::Last:
      case Aggregate::First:
        if (t.IsError()) {
          Error<Msg::EventWithoutValue>(arg.value->range, s->decl->name);
          return Err();
        }
        r.type = t;
        r.may_be_unknown = true;
        r.origin = s;
        return r;
      case Aggregate::Min:
      case Aggregate::Max:
      case Aggregate::Avg:
      case Aggregate::Sum:
      case Aggregate::Delta:
      case Aggregate::Slope: {
        if (!t.IsNumeric() && t.kind != TypeKind::Quantity) {
          Error<Msg::AggregateNeedsNumeric>(arg.value->range, e.text, s->decl->name, ToString(t));
          return Err();
        }
        r.type = t;
        if (f == Aggregate::Avg && t.kind == TypeKind::Integer) r.type = Type::Of(TypeKind::Decimal);
        if (f == Aggregate::Slope) {
          stdlib::Unit per_hour = *stdlib::ParseUnit("h");
          r.type = t.kind == TypeKind::Quantity ? Type::Quantity(stdlib::Divide(t.unit, per_hour))
                                                : Type::Quantity(stdlib::Divide(stdlib::One(), per_hour));
        }
        r.may_be_unknown = true;
        if (f == Aggregate::Min || f == Aggregate::Max || f == Aggregate::Avg) r.origin = s;
        return r;
      }
    }
    return Err();
  }

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
  std::string retention_text_;
};

}  // namespace

Model Check(const std::vector<const ast::File*>& files, diag::DiagnosticEngine& diags) {
  return Checker(files, diags).Run();
}

}  // namespace cdr::sema
