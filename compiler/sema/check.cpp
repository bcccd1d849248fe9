// compiler/sema/check.cpp: the checker's entry point and shared helpers (numbers, units,
// "did you mean"); the constructs are checked in check_*.cpp (compiler/sema/checker.h).
#include "compiler/sema/check.h"

#include <map>

#include "compiler/sema/checker.h"

namespace cdr::sema::checker {

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

Model Checker::Run() {
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


// "did you mean" for a misspelt name: a note and a fix-it that replaces `r` with the
// closest candidate. False when no candidate is close.
bool Checker::DidYouMean(diag::Diagnostic* d, const std::string& name, const SourceRange& r,
                       const std::vector<std::string>& candidates) {
  std::string sug = Suggest(name, candidates);
  if (sug.empty() || !d) return false;
  AddNote(d, {}, "did you mean `" + sug + "`?");
  d->fixes.push_back(diag::FixIt{r, sug});
  return true;
}

std::optional<stdlib::Unit> Checker::Unit(const std::string& text, const SourceRange& r) {
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

std::optional<Decimal> Checker::Number(const std::string& text, const SourceRange& r, bool negated) {
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

void Checker::RecordSignal(const std::string& name, const SourceRange& use, const SignalInfo* info) {
  Record(sema::Symbol::Kind::Signal, name, use, info->decl->name_range);
  sema::Symbol& s = model_.symbols.back();
  s.signal = info;
  size_t dot = name.find('.');
  if (dot == std::string::npos) return;
  // A derived signal is defined by its rule's `let`; a response to a rule's alerts, by the rule.
  auto r = rules_by_name_.find(name.substr(0, dot));
  if (r == rules_by_name_.end()) return;
  s.rule = r->second;
  s.decl = r->second->name_range;
  const auto& lets = rule_let_items_[r->second];
  if (auto l = lets.find(name.substr(dot + 1)); l != lets.end()) {
    s.let = l->second;
    s.decl = l->second->name_ranges[0];
  }
}

void Checker::RecordLet(const ast::Rule& rule, const ast::RuleItem& let, const SourceRange& use) {
  Record(sema::Symbol::Kind::Let, let.names[0], use, let.name_ranges[0]);
  model_.symbols.back().let = &let;
  model_.symbols.back().rule = &rule;
}

}  // namespace cdr::sema::checker

namespace cdr::sema {

Model Check(const std::vector<const ast::File*>& files, diag::DiagnosticEngine& diags) {
  return checker::Checker(files, diags).Run();
}

}  // namespace cdr::sema
