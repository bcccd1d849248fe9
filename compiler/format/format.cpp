// compiler/format/format.cpp: prints the AST in canonical layout. Comments are
// re-attached by line: a comment on the line where an item ends stays at the end of
// that line; any other comment is printed on its own line before the next item.
#include "compiler/format/format.h"

#include <algorithm>

namespace cdr::format {
namespace {

using ast::Expr;
using ast::ExprKind;

std::string QuoteSingle(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

class Formatter {
 public:
  Formatter(const ast::File* file, const std::string& source) : file_(file) {
    if (file) comments_ = file->comments;
    std::stable_sort(comments_.begin(), comments_.end(), [](const ast::Comment& a, const ast::Comment& b) {
      return std::pair(a.range.line, a.range.column) < std::pair(b.range.line, b.range.column);
    });
    size_t start = 0;
    for (size_t i = 0; i <= source.size(); ++i) {
      if (i == source.size() || source[i] == '\n') {
        std::string_view line(source.data() + start, i - start);
        blank_.push_back(line.find_first_not_of(" \t\r") == std::string_view::npos);
        start = i + 1;
      }
    }
  }

  std::string Run() {
    bool first = true;
    for (const auto& d : file_->decls) {
      Leading(d.range.line, "", first ? Gap::None : Gap::Force);
      first = false;
      if (d.schema) Schema(*d.schema);
      else if (d.rule) Rule(*d.rule);
      else if (d.test) Test(*d.test);
      else if (d.ruleset) Ruleset(*d.ruleset);
    }
    // Comments after the last declaration.
    if (next_ < comments_.size()) Leading(INT32_MAX, "", out_.empty() ? Gap::None : Gap::Force);
    return out_;
  }

 private:
  bool BlankBetween(int32_t after, int32_t before) const {
    for (int32_t l = after + 1; l < before; ++l) {
      if (l >= 1 && static_cast<size_t>(l) <= blank_.size() && blank_[static_cast<size_t>(l - 1)]) return true;
    }
    return false;
  }

  enum class Gap { None, Source, Force };

  // Prints the comments that start before `line`, each on its own line. `gap` says
  // whether a blank line may come first: never (start of a block), where the source had
  // one, or always (between declarations). Later blank lines follow the source.
  void Leading(int32_t line, const std::string& indent, Gap gap) {
    auto blank = [&](int32_t next_line) {
      if (gap == Gap::Force) out_ += '\n';
      else if (gap == Gap::Source && last_line_ > 0 && BlankBetween(last_line_, next_line)) out_ += '\n';
      gap = Gap::Source;
    };
    while (next_ < comments_.size() && comments_[next_].range.line < line) {
      const auto& c = comments_[next_++];
      blank(c.range.line);
      out_ += indent + c.text + '\n';
      last_line_ = c.range.end_line;
    }
    if (line != INT32_MAX) blank(line);
  }

  // Ends the current output line, taking a comment that sits on `line` in the source.
  void EndLine(int32_t line) {
    while (next_ < comments_.size() && comments_[next_].range.line <= line &&
           comments_[next_].range.line == comments_[next_].range.end_line) {
      out_ += ' ' + comments_[next_].text;
      ++next_;
    }
    out_ += '\n';
    last_line_ = line;
  }

  void Codes(const std::vector<ast::CodeGroup>& groups) {
    for (size_t i = 0; i < groups.size(); ++i) {
      out_ += (i == 0 ? " " : ", ") + groups[i].system;
      for (size_t j = 0; j < groups[i].codes.size(); ++j) out_ += (j == 0 ? " " : ", ") + groups[i].codes[j];
    }
  }

  void Schema(const ast::Schema& s) {
    out_ += "schema " + s.name;
    if (!s.version.empty()) out_ += " version " + s.version;
    EndLine(s.name_range.end_line);
    bool first = true;
    for (const auto& item : s.items) {
      Leading(item.range.line, "  ", first ? Gap::None : Gap::Source);
      first = false;
      if (item.valueset) {
        out_ += "  valueset " + item.valueset->name + " = {";
        Codes(item.valueset->codes);
        out_ += " }";
        EndLine(item.range.end_line);
        continue;
      }
      const ast::SignalDecl& sig = *item.signal;
      out_ += std::string("  ") + (sig.is_event ? "event " : "signal ") + sig.name;
      if (sig.type.kind != ast::ValueType::Kind::None) out_ += " : " + Type(sig.type);
      if (!sig.kind.empty()) out_ += " from " + sig.kind;
      if (!sig.codes.empty()) {
        out_ += " codes";
        Codes(sig.codes);
      }
      if (sig.has_plausible) {
        out_ += " plausible " + sig.plausible_low + " .. " + sig.plausible_high;
        if (sig.keep_implausible) out_ += " keep";
      }
      for (const auto& c : sig.conversions) out_ += " convert " + QuoteSingle(c.unit) + " factor " + c.factor;
      EndLine(item.range.end_line);
    }
  }

  static std::string Type(const ast::ValueType& t) {
    using K = ast::ValueType::Kind;
    switch (t.kind) {
      case K::None: return "";
      case K::Quantity: return "quantity " + QuoteSingle(t.unit);
      case K::Boolean: return "boolean";
      case K::Integer: return "integer";
      case K::Decimal: return "decimal";
      case K::Text: return "text";
      case K::Code: return t.valueset.empty() ? "code" : "code in valueset " + t.valueset;
      case K::Enum: {
        std::string s = "enum {";
        for (size_t i = 0; i < t.members.size(); ++i) s += (i == 0 ? " " : ", ") + t.members[i];
        return s + " }";
      }
    }
    return "";
  }

  void Ruleset(const ast::Ruleset& r) {
    out_ += "ruleset " + r.name;
    if (r.retention) out_ += " retention " + E(*r.retention, 0);
    if (!r.live.empty()) out_ += "\n  live " + r.live;
    if (!r.approvals.empty()) {
      out_ += "\n  approvals " + r.approvals;
      for (size_t i = 0; i < r.roles.size(); ++i) out_ += (i == 0 ? " including " : ", ") + r.roles[i];
      if (r.signed_approvals) out_ += " signed";
    }
    EndLine(r.range.end_line);
  }

 public:
  std::string BandCondition(const ast::BandRow& row) { return Cond(row); }

  std::string RuleOnly(const ast::Rule& r, bool with_status) {
    with_status_ = with_status;
    Rule(r);
    return out_;
  }

 private:
  void Rule(const ast::Rule& r) {
    out_ += "rule " + r.name;
    if (!r.version.empty()) out_ += " version " + r.version;
    EndLine(r.name_range.end_line);
    using K = ast::RuleItem::Kind;
    bool first = true;
    for (const auto& it : r.items) {
      if (it.kind == K::Status && !with_status_) continue;
      Leading(it.range.line, "  ", first ? Gap::None : Gap::Source);
      first = false;
      out_ += "  ";
      auto list = [&](const char* kw, const std::vector<std::string>& v) {
        out_ += kw;
        for (size_t i = 0; i < v.size(); ++i) out_ += (i == 0 ? " " : ", ") + v[i];
      };
      switch (it.kind) {
        case K::Title: list("title", it.strings); break;
        case K::Owner: list("owner", it.strings); break;
        case K::Cites: list("cites", it.strings); break;
        case K::Approvals: list("approvals", it.strings); break;
        case K::Status: list("status", it.names); break;
        case K::Uses: list("uses", it.names); break;
        case K::Let: out_ += "let " + it.names[0] + " = " + E(*it.expr, 1); break;
        case K::When:
          out_ += "when " + E(*it.expr, 1) + " alert " + it.names[0] + " " + it.message;
          break;
        case K::Suppress: out_ += "suppress " + E(*it.expr, 1); break;
        case K::Allow: out_ += "allow " + it.names[0] + " " + it.strings[0]; break;
      }
      EndLine(it.range.end_line);
    }
  }

  std::string Plain(const ast::PlainValue& v) {
    switch (v.kind) {
      case ast::PlainValue::Kind::Number: return v.unit.empty() ? v.text : v.text + " " + QuoteSingle(v.unit);
      case ast::PlainValue::Kind::Text: return QuoteSingle(v.text);
      case ast::PlainValue::Kind::Bool: return v.text;
    }
    return v.text;
  }

  void Test(const ast::Test& t) {
    out_ += "test " + t.name + " for " + t.target + " {";
    EndLine(t.target_range.end_line);
    bool first = true;
    for (const auto& s : t.steps) {
      Leading(s.range.line, "  ", first ? Gap::None : Gap::Source);
      first = false;
      switch (s.kind) {
        case ast::TestStep::Kind::Given:
          out_ += "  given " + s.signal;
          if (s.value) out_ += " " + Plain(*s.value);
          out_ += " at " + E(*s.time, 1);
          if (s.recorded) out_ += " recorded " + E(*s.recorded, 1);
          if (!s.id.empty()) out_ += " id " + s.id;
          if (!s.status.empty()) out_ += " status " + s.status;
          break;
        case ast::TestStep::Kind::ExpectAlert:
          out_ += "  expect alert";
          if (!s.severity.empty()) out_ += " " + s.severity;
          out_ += " at " + E(*s.time, 1);
          break;
        case ast::TestStep::Kind::ExpectNoAlert:
          out_ += "  expect no alert at " + E(*s.time, 1);
          break;
        case ast::TestStep::Kind::ExpectValue:
          out_ += "  expect " + s.signal + " = " + (s.value ? Plain(*s.value) : std::string("null")) + " at " + E(*s.time, 1);
          break;
      }
      EndLine(s.range.end_line);
    }
    Leading(t.range.end_line, "  ", Gap::None);
    out_ += "}";
    EndLine(t.range.end_line);
  }

  // Expressions print on one line, except bands, which put one row per line at `depth`.
  std::string E(const Expr& e, int depth) {
    switch (e.kind) {
      case ExprKind::Error: return "null";
      case ExprKind::Bool:
      case ExprKind::Number:
      case ExprKind::Text:
      case ExprKind::DateTime:
      case ExprKind::Name:
        return e.text;
      case ExprKind::Null: return "null";
      case ExprKind::Quantity: return e.text + " " + (e.quoted_unit ? QuoteSingle(e.unit) : e.unit);
      case ExprKind::Duration: return e.text + e.unit;
      case ExprKind::Paren: return "(" + E(*e.kids[0], depth) + ")";
      case ExprKind::Unary: return Spelling(e.op) + E(*e.kids[0], depth);
      case ExprKind::Binary: return E(*e.kids[0], depth) + " " + Spelling(e.op) + " " + E(*e.kids[1], depth);
      case ExprKind::Is: return E(*e.kids[0], depth) + " is " + (e.negated ? "not " : "") + Spelling(e.op);
      case ExprKind::As: return E(*e.kids[0], depth) + " as " + e.text;
      case ExprKind::Step: return Spelling(e.op) + std::string(" of ") + E(*e.kids[0], depth);
      case ExprKind::Limit: return Spelling(e.op) + (" " + e.name2);
      case ExprKind::Not: return "not " + E(*e.kids[0], depth);
      case ExprKind::Sustained: return E(*e.kids[0], depth) + " for " + E(*e.kids[1], depth);
      case ExprKind::If: {
        // An else-if chain puts each `else` on its own line, one level in.
        std::string s = "if " + E(*e.kids[0], depth) + " then " + E(*e.kids[1], depth);
        const Expr* rest = e.kids[2].get();
        bool chain = rest->kind == ExprKind::If;
        std::string sep = chain ? "\n" + std::string(static_cast<size_t>(depth + 1) * 2, ' ') + "else " : " else ";
        while (chain && rest->kind == ExprKind::If) {
          s += sep + "if " + E(*rest->kids[0], depth) + " then " + E(*rest->kids[1], depth);
          rest = rest->kids[2].get();
        }
        return s + sep + E(*rest, depth);
      }
      case ExprKind::Case: {
        std::string s = "case";
        size_t i = 0;
        if (e.has_subject) s += " " + E(*e.kids[i++], depth);
        for (; i + 1 < e.kids.size(); i += 2) {
          s += " when " + E(*e.kids[i], depth) + " then " + E(*e.kids[i + 1], depth);
        }
        return s + " else " + E(*e.kids.back(), depth) + " end";
      }
      case ExprKind::Bands: return Bands(e, depth);
      case ExprKind::Absence: return "no " + e.text + " within " + E(*e.kids[0], depth);
      case ExprKind::Sequence: return e.text + " then " + e.name2 + " within " + E(*e.kids[0], depth);
      case ExprKind::Call: {
        std::string s = e.text + "(";
        for (size_t i = 0; i < e.args.size(); ++i) {
          if (i) s += ", ";
          s += E(*e.args[i].value, depth);
          if (e.args[i].window) s += " within " + E(*e.args[i].window, depth);
        }
        return s + ")";
      }
    }
    return "";
  }

  std::string Bands(const Expr& e, int depth) {
    // Rows are whole lines, so comments between rows stay between rows.
    std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
    std::string saved;
    std::swap(saved, out_);
    out_ += "bands " + E(*e.kids[0], depth) + " {";
    EndLine(e.kids[0]->range.end_line);
    for (const auto& row : e.rows) {
      Leading(row.range.line, indent, Gap::None);
      out_ += indent + Cond(row) + ": " + E(*row.value, depth + 1) + ";";
      EndLine(row.value->range.end_line);
    }
    Leading(e.range.end_line, indent, Gap::None);
    out_ += std::string(static_cast<size_t>(depth) * 2, ' ') + "}";
    std::string text;
    std::swap(text, out_);
    out_ = std::move(saved);
    return text;
  }

  std::string Cond(const ast::BandRow& row) {
    switch (row.kind) {
      case ast::BandRow::Kind::Range: return Plain(row.low) + " .. " + Plain(row.high);
      case ast::BandRow::Kind::Exact: return Plain(row.low);
      case ast::BandRow::Kind::Else: return "else";
      case ast::BandRow::Kind::Bounds: {
        std::string s;
        for (size_t i = 0; i < row.bounds.size(); ++i) {
          if (i) s += " and ";
          s += Spelling(row.bounds[i].op) + (" " + Plain(row.bounds[i].value));
        }
        return s;
      }
    }
    return "";
  }

  const ast::File* file_;
  std::vector<ast::Comment> comments_;
  std::vector<bool> blank_;
  size_t next_ = 0;
  int32_t last_line_ = 0;
  std::string out_;
  bool with_status_ = true;  // RuleOnly for the content hash leaves `status` out
};

}  // namespace

std::string Format(const ast::File& file, const std::string& source) {
  return Formatter(&file, source).Run();
}

std::string FormatBandCondition(const ast::BandRow& row) { return Formatter(nullptr, "").BandCondition(row); }

std::string FormatRule(const ast::Rule& rule, bool with_status) {
  return Formatter(nullptr, "").RuleOnly(rule, with_status);
}

}  // namespace cdr::format
