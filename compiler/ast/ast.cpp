// compiler/ast/ast.cpp: AST dump (for tests and `cdr ast`) and literal helpers.
#include "compiler/ast/ast.h"

#include <cctype>
#include <iterator>

#include <fmt/format.h>

namespace cdr::ast {

const char* ExprKindName(ExprKind kind) {
  switch (kind) {
#define EXPR(id, name) \
  case ExprKind::id:   \
    return name;
#include "compiler/ast/exprs.def"
#undef EXPR
  }
  return "?";
}

const char* Spelling(Operator op) {
  switch (op) {
    case Operator::None: return "";
#define OPERATOR(id, spelling) \
  case Operator::id:           \
    return spelling;
#include "compiler/ast/operators.def"
#undef OPERATOR
  }
  return "";
}

Operator OperatorNamed(std::string_view text) {
#define OPERATOR(id, spelling) \
  if (text == spelling) return Operator::id;
#include "compiler/ast/operators.def"
#undef OPERATOR
  return Operator::None;
}

namespace {
constexpr const char* kRuleItemKeywords[] = {"title", "owner", "status", "cites", "approvals",
                                             "uses",  "let",   "when",   "suppress", "allow"};
static_assert(std::size(kRuleItemKeywords) == static_cast<size_t>(RuleItem::Kind::Allow) + 1,
              "one keyword per rule item kind");
}  // namespace

const char* Keyword(RuleItem::Kind kind) { return kRuleItemKeywords[static_cast<size_t>(kind)]; }

std::vector<std::string> RuleItemKeywords() {
  return std::vector<std::string>(std::begin(kRuleItemKeywords), std::end(kRuleItemKeywords));
}

std::string Unquote(const std::string& raw) {
  if (raw.size() < 2) return raw;
  std::string out;
  for (size_t i = 1; i + 1 < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\' && i + 2 < raw.size()) {
      char n = raw[++i];
      switch (n) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          // \uXXXX (CQL): a code point of the Basic Multilingual Plane, as UTF-8.
          unsigned cp = 0;
          size_t k = 0;
          for (; k < 4 && i + 1 + k + 1 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1 + k])); ++k) {
            cp = cp * 16 + static_cast<unsigned>(std::stoi(std::string(1, raw[i + 1 + k]), nullptr, 16));
          }
          if (k < 4 || (cp >= 0xD800 && cp <= 0xDFFF)) {
            out += n;  // not a complete escape: the letter itself
            break;
          }
          i += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: out += n; break;
      }
      continue;
    }
    out += c;
  }
  return out;
}

namespace {

class Dumper {
 public:
  explicit Dumper(bool ranges) : ranges_(ranges) {}
  std::string out;

  void Range(const SourceRange& r) {
    if (ranges_) out += fmt::format(" @{}:{}-{}:{}", r.line, r.column, r.end_line, r.end_column);
  }
  void Open(std::string_view what, const SourceRange& r, int indent) {
    out += std::string(static_cast<size_t>(indent) * 2, ' ');
    out += '(';
    out += what;
    Range(r);
  }

  void Plain(const PlainValue& v) {
    const char* k = v.kind == PlainValue::Kind::Number ? "num" : v.kind == PlainValue::Kind::Text ? "text" : "bool";
    out += fmt::format(" [{} {}", k, v.text);
    if (!v.unit.empty()) out += fmt::format(" '{}'", v.unit);
    out += ']';
  }

  void Expr(const ast::Expr* e, int indent) {
    if (!e) {
      out += std::string(static_cast<size_t>(indent) * 2, ' ') + "(none)\n";
      return;
    }
    Open(ExprKindName(e->kind), e->range, indent);
    if (e->op != Operator::None) out += std::string(" ") + Spelling(e->op);
    if (!e->text.empty()) out += " " + e->text;
    if (!e->unit.empty()) out += e->quoted_unit ? fmt::format(" unit='{}'", e->unit) : " unit=" + e->unit;
    if (!e->name2.empty()) out += " " + e->name2;
    if (e->negated) out += " negated";
    if (e->has_subject) out += " subject";
    out += '\n';
    for (const auto& k : e->kids) Expr(k.get(), indent + 1);
    for (const auto& a : e->args) {
      Open("arg", a.value ? a.value->range : SourceRange{}, indent + 1);
      out += '\n';
      Expr(a.value.get(), indent + 2);
      if (a.window) Expr(a.window.get(), indent + 2);
      out += std::string(static_cast<size_t>(indent + 1) * 2, ' ') + ")\n";
    }
    for (const auto& r : e->rows) {
      static constexpr const char* kKinds[] = {"range", "bounds", "exact", "else"};
      Open(std::string("row ") + kKinds[static_cast<int>(r.kind)], r.range, indent + 1);
      if (r.kind == BandRow::Kind::Range || r.kind == BandRow::Kind::Exact) Plain(r.low);
      if (r.kind == BandRow::Kind::Range) Plain(r.high);
      for (const auto& b : r.bounds) {
        out += std::string(" ") + Spelling(b.op);
        Plain(b.value);
      }
      out += '\n';
      Expr(r.value.get(), indent + 2);
      out += std::string(static_cast<size_t>(indent + 1) * 2, ' ') + ")\n";
    }
    out += std::string(static_cast<size_t>(indent) * 2, ' ') + ")\n";
  }

  void Codes(const std::vector<CodeGroup>& groups) {
    for (const auto& g : groups) {
      out += " codes " + g.system;
      for (const auto& c : g.codes) out += " " + c;
    }
  }

  void File(const ast::File& f) {
    for (const auto& d : f.decls) {
      if (d.schema) {
        const auto& s = *d.schema;
        Open("schema " + s.name, s.range, 0);
        if (!s.version.empty()) out += " version " + s.version;
        out += '\n';
        for (const auto& item : s.items) {
          if (item.signal) {
            const auto& sig = *item.signal;
            Open(std::string(sig.is_event ? "event " : "signal ") + sig.name, sig.range, 1);
            static constexpr const char* kTypes[] = {"none", "quantity", "boolean", "integer",
                                                     "decimal", "text", "code", "enum"};
            out += std::string(" ") + kTypes[static_cast<int>(sig.type.kind)];
            if (!sig.type.unit.empty()) out += " '" + sig.type.unit + "'";
            if (!sig.type.valueset.empty()) out += " valueset " + sig.type.valueset;
            for (const auto& m : sig.type.members) out += " " + m;
            Codes(sig.codes);
            if (sig.has_plausible) out += " plausible " + sig.plausible_low + " " + sig.plausible_high;
            for (const auto& c : sig.conversions) out += " convert '" + c.unit + "' " + c.factor;
            if (!sig.kind.empty()) out += " from " + sig.kind;
            out += ")\n";
          } else if (item.valueset) {
            Open("valueset " + item.valueset->name, item.valueset->range, 1);
            Codes(item.valueset->codes);
            out += ")\n";
          }
        }
        out += ")\n";
      } else if (d.rule) {
        const auto& r = *d.rule;
        Open("rule " + r.name, r.range, 0);
        if (!r.version.empty()) out += " version " + r.version;
        out += '\n';
        for (const auto& it : r.items) {
          Open(Keyword(it.kind), it.range, 1);
          for (const auto& s : it.strings) out += " " + s;
          for (const auto& n : it.names) out += " " + n;
          if (!it.message.empty()) out += " " + it.message;
          out += '\n';
          if (it.expr) Expr(it.expr.get(), 2);
          out += "  )\n";
        }
        out += ")\n";
      } else if (d.test) {
        const auto& t = *d.test;
        Open("test " + t.name + " for " + t.target, t.range, 0);
        out += '\n';
        for (const auto& s : t.steps) {
          static constexpr const char* kSteps[] = {"given", "expect-alert", "expect-no-alert", "expect-value"};
          Open(kSteps[static_cast<int>(s.kind)], s.range, 1);
          if (!s.signal.empty()) out += " " + s.signal;
          if (s.value) Plain(*s.value);
          if (s.kind == TestStep::Kind::ExpectValue && !s.value) out += " null";
          if (!s.id.empty()) out += " id " + s.id;
          if (!s.status.empty()) out += " status " + s.status;
          if (!s.severity.empty()) out += " severity " + s.severity;
          out += '\n';
          Expr(s.time.get(), 2);
          if (s.recorded) Expr(s.recorded.get(), 2);
          out += "  )\n";
        }
        out += ")\n";
      } else if (d.ruleset) {
        Open("ruleset " + d.ruleset->name, d.ruleset->range, 0);
        out += '\n';
        if (d.ruleset->retention) Expr(d.ruleset->retention.get(), 1);
        out += ")\n";
      }
    }
  }

 private:
  bool ranges_;
};

}  // namespace

std::string Dump(const File& file, bool with_ranges) {
  Dumper d(with_ranges);
  d.File(file);
  return d.out;
}

}  // namespace cdr::ast
