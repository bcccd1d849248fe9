// compiler/format/format.cpp: prints the AST in canonical layout. Comments are
// re-attached by line: a comment on the line where an item ends stays at the end of
// that line; any other comment is printed on its own line before the next item.
#include "compiler/format/format.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "compiler/source/source.h"

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

// A layout document (Wadler's "prettier printer", as in Prettier): text, line breaks that
// print as `flat` when their group fits on the line, groups, and nesting. One document per
// item serves both layouts: `cdr fmt`'s, which breaks a group when it does not fit in the
// line width or is a table (below), and the canonical text a rule's hash is taken of
// (width 0), which breaks nothing but else-if chains, so that hashes depend on neither.
struct Doc {
  enum class Kind { Text, Line, Concat, Group, Nest, Fill, Suffix };
  Kind kind = Kind::Concat;
  std::string text;       // Text; Line: what it prints when flat; Suffix: a comment, printed at the end of its line
  int indent = -1;        // Nest: columns added; Line: its indent in the canonical text (-1: the nesting's)
  bool canonical_break = false;  // Group: broken in the canonical text
  bool hard = false;             // Group: broken by `cdr fmt` even when it fits (a table, or holds one)
  std::vector<Doc> kids;  // Concat, Group, Nest; Fill: texts, a space or a line break between them

  Doc() = default;
  Doc(std::string s) : kind(Kind::Text), text(std::move(s)) {}  // NOLINT: text converts implicitly
  Doc(const char* s) : kind(Kind::Text), text(s) {}              // NOLINT
};

Doc& operator+=(Doc& a, Doc b) {
  if (a.kind != Doc::Kind::Concat) {
    Doc c;
    c.kids.push_back(std::move(a));
    a = std::move(c);
  }
  a.kids.push_back(std::move(b));
  return a;
}

Doc operator+(Doc a, Doc b) { return std::move(a += std::move(b)); }

Doc Line(std::string flat = " ", int canonical_indent = -1) {
  Doc d;
  d.kind = Doc::Kind::Line;
  d.text = std::move(flat);
  d.indent = canonical_indent;
  return d;
}

// Whether `cdr fmt` breaks a group inside `d` (groups mark themselves when they hold one).
bool HoldsHard(const Doc& d) {
  if (d.kind == Doc::Kind::Group) return d.hard;
  if (d.kind == Doc::Kind::Suffix) return true;  // a `//` comment ends its line
  return std::any_of(d.kids.begin(), d.kids.end(), HoldsHard);
}

// A group; a `table` (an else-if chain, a `case` of several `when`s: a decision table) has
// each branch on its own line in `cdr fmt`'s layout whatever its length, and so has every
// group around it.
Doc Group(Doc inner, bool table = false, bool canonical_break = false) {
  Doc d;
  d.kind = Doc::Kind::Group;
  d.canonical_break = canonical_break;
  d.hard = table || HoldsHard(inner);
  d.kids.push_back(std::move(inner));
  return d;
}

Doc Nest(Doc inner, int by = 2) {
  Doc d;
  d.kind = Doc::Kind::Nest;
  d.indent = by;
  d.kids.push_back(std::move(inner));
  return d;
}

// A comment printed at the end of the line it falls on (before the next line break, or at
// the end), so that nothing after it on that line is commented out.
Doc Suffix(std::string comment) {
  Doc d;
  d.kind = Doc::Kind::Suffix;
  d.text = std::move(comment);
  return d;
}

Doc Fill(std::vector<std::string> words) {
  Doc d;
  d.kind = Doc::Kind::Fill;
  for (auto& w : words) d.kids.emplace_back(std::move(w));
  return d;
}

// Lays a document out from column `column` with continuation lines at `indent`. Width 0
// gives the canonical text.
class Printer {
 public:
  explicit Printer(int width) : width_(width) {}

  std::string Print(const Doc& doc, int indent, int column) {
    column_ = column;
    stack_ = {{indent, false, &doc}};
    while (!stack_.empty()) {
      Cmd c = stack_.back();
      stack_.pop_back();
      const Doc& d = *c.doc;
      switch (d.kind) {
        case Doc::Kind::Text: Emit(d.text); break;
        case Doc::Kind::Suffix: pending_ += " " + d.text; break;
        case Doc::Kind::Concat: Push(d.kids, c.indent, c.flat); break;
        case Doc::Kind::Nest: Push(d.kids, c.indent + d.indent, c.flat); break;
        case Doc::Kind::Group: {
          bool flat = width_ == 0 ? !d.canonical_break : !d.hard && (c.flat || Fits({c.indent, true, &d}));
          Push(d.kids, c.indent, flat);
          break;
        }
        case Doc::Kind::Line:
          if (c.flat) Emit(d.text);
          else Break(width_ == 0 && d.indent >= 0 ? d.indent : c.indent);
          break;
        case Doc::Kind::Fill:
          for (size_t i = 0; i < d.kids.size(); ++i) {
            if (i > 0) {
              bool last = i + 1 == d.kids.size();
              bool fits = last ? Fits({c.indent, true, &d.kids[i]}, 1)
                               : column_ + 1 + source::CodePoints(d.kids[i].text) <= width_;
              if (c.flat || width_ == 0 || fits) Emit(" ");
              else Break(c.indent);
            }
            Emit(d.kids[i].text);
          }
          break;
      }
    }
    out_ += pending_;
    return std::move(out_);
  }

 private:
  struct Cmd {
    int indent;
    bool flat;
    const Doc* doc;
  };

  void Push(const std::vector<Doc>& kids, int indent, bool flat) {
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack_.push_back({indent, flat, &*it});
  }

  void Emit(const std::string& text) {
    out_ += text;
    size_t nl = text.rfind('\n');
    column_ = nl == std::string::npos ? column_ + source::CodePoints(text)
                                      : source::CodePoints(std::string_view(text).substr(nl + 1));
  }

  void Break(int indent) {
    out_ += pending_;
    pending_.clear();
    out_ += '\n' + std::string(static_cast<size_t>(indent), ' ');
    column_ = indent;
  }

  // Whether `first` laid flat, then what follows it in its own layout up to the next
  // line break, fits in the width (`extra` columns reserved before it).
  bool Fits(Cmd first, int extra = 0) const {
    int left = width_ - column_ - extra;
    std::vector<Cmd> todo{first};
    size_t rest = stack_.size();
    while (left >= 0) {
      if (todo.empty()) {
        if (rest == 0) return true;
        todo.push_back(stack_[--rest]);
        continue;
      }
      Cmd c = todo.back();
      todo.pop_back();
      const Doc& d = *c.doc;
      switch (d.kind) {
        case Doc::Kind::Text: {
          size_t nl = d.text.find('\n');
          left -= source::CodePoints(std::string_view(d.text).substr(0, nl));
          if (nl != std::string::npos) return left >= 0;
          break;
        }
        case Doc::Kind::Line:
          if (!c.flat) return true;
          left -= source::CodePoints(d.text);
          break;
        case Doc::Kind::Fill:
          if (!c.flat) return d.kids.empty() || left - source::CodePoints(d.kids[0].text) >= 0;
          for (const auto& w : d.kids) left -= source::CodePoints(w.text) + 1;
          ++left;
          break;
        default:
          for (auto it = d.kids.rbegin(); it != d.kids.rend(); ++it) todo.push_back({c.indent, c.flat, &*it});
      }
    }
    return false;
  }

  int width_;
  int column_ = 0;
  std::vector<Cmd> stack_;
  std::string out_;
  std::string pending_;  // the comments to end the current line with
};

class Formatter {
 public:
  Formatter(const ast::File* file, const std::string& source, int width) : file_(file), width_(width) {
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

  // The next comment not yet printed if it is on one line, at or before `line`; else null.
  const ast::Comment* OneLineCommentBy(int32_t line) const {
    if (next_ >= comments_.size()) return nullptr;
    const ast::Comment& c = comments_[next_];
    return c.range.line <= line && c.range.line == c.range.end_line ? &c : nullptr;
  }

  // Ends the current output line, taking a comment that sits on `line` in the source.
  void EndLine(int32_t line) {
    for (const ast::Comment* c; (c = OneLineCommentBy(line)) != nullptr; ++next_) out_ += ' ' + c->text;
    out_ += '\n';
    last_line_ = line;
  }

  // Prints an item's document where the output stands, its continuation lines at `indent`.
  void Put(const Doc& d, int indent) {
    size_t nl = out_.rfind('\n');
    int column = source::CodePoints(std::string_view(out_).substr(nl == std::string::npos ? 0 : nl + 1));
    out_ += Printer(width_).Print(d, indent, column);
  }

  // A code list fills its lines: `loinc "1", "2", snomed "3"`.
  static Doc Codes(const std::vector<ast::CodeGroup>& groups) {
    std::vector<std::string> words;
    for (const auto& g : groups) {
      for (size_t j = 0; j < g.codes.size(); ++j) words.push_back((j == 0 ? g.system + " " : "") + g.codes[j] + ",");
    }
    if (!words.empty()) words.back().pop_back();
    return Fill(std::move(words));
  }

  void Schema(const ast::Schema& s) {
    out_ += "schema " + s.name;
    if (!s.version.empty()) out_ += " version " + s.version;
    EndLine(s.name_range.end_line);
    bool first = true;
    for (const auto& item : s.items) {
      Leading(item.range.line, "  ", first ? Gap::None : Gap::Source);
      first = false;
      out_ += "  ";
      if (item.valueset) {
        Put(Group(Doc("valueset " + item.valueset->name + " = {") + Nest(Line() + Codes(item.valueset->codes)) + Line() +
                  "}"),
            2);
        EndLine(item.range.end_line);
        continue;
      }
      // A declaration too long for the line puts each clause on its own line.
      const ast::SignalDecl& sig = *item.signal;
      Doc d = Doc(std::string(sig.is_event ? "event " : "signal ") + sig.name);
      if (sig.type.kind != ast::ValueType::Kind::None) d += (" : " + Type(sig.type));
      if (!sig.kind.empty()) d += (" from " + sig.kind);
      if (!sig.codes.empty()) d += Nest(Line() + "codes " + Codes(sig.codes));
      if (sig.has_plausible) {
        d += Nest(Line() + ("plausible " + sig.plausible_low + " .. " + sig.plausible_high +
                               (sig.keep_implausible ? " keep" : "")));
      }
      for (const auto& c : sig.conversions) d += Nest(Line() + ("convert " + QuoteSingle(c.unit) + " factor " + c.factor));
      Put(Group(d), 2);
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

  // `kw a, b, c`; too long for the line, one element per line.
  static Doc List(const char* kw, const std::vector<std::string>& v) {
    Doc rest;
    for (size_t i = 1; i < v.size(); ++i) rest += Line() + (v[i] + (i + 1 < v.size() ? "," : ""));
    std::string head = kw;
    if (!v.empty()) head += " " + v[0] + (v.size() > 1 ? "," : "");
    return Group(Doc(head) + Nest(rest));
  }

  void Ruleset(const ast::Ruleset& r) {
    Doc d = Doc("ruleset " + r.name);
    if (r.retention) d += " retention " + E(*r.retention, 0);
    Put(d, 2);
    if (!r.live.empty()) out_ += "\n  live " + r.live;
    if (!r.approvals.empty()) {
      Doc d = Doc("approvals " + r.approvals);
      if (!r.roles.empty()) d += " " + List("including", r.roles);
      if (r.signed_approvals) d += " signed";
      out_ += "\n  ";
      Put(d, 2);
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
      Doc d;
      switch (it.kind) {
        case K::Title: d = List("title", it.strings); break;
        case K::Owner: d = List("owner", it.strings); break;
        case K::Cites: d = List("cites", it.strings); break;
        case K::Approvals: d = List("approvals", it.strings); break;
        case K::Status: d = List("status", it.names); break;
        case K::Uses: d = List("uses", it.names); break;
        case K::Let: d = Doc("let " + it.names[0] + " = ") + E(*it.expr, 1); break;
        case K::When:
          // Too long for the line, the alert goes on the next; a condition that breaks
          // continues a level further in than the alert.
          d = Group(Doc("when ") + Nest(E(*it.expr, 1)) + Nest(Line() + ("alert " + it.names[0] + " " + it.message)));
          break;
        case K::Suppress: d = Doc("suppress ") + E(*it.expr, 1); break;
        case K::Allow: d = Doc("allow " + it.names[0] + " " + it.strings[0]); break;
      }
      Put(d, 2);
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
    // Too long for the line, `for` goes on the next, two levels in (the steps are one level in).
    Put(Group(Doc("test " + t.name) + Nest(Line() + ("for " + t.target + " {"), 4)), 0);
    EndLine(t.target_range.end_line);
    bool first = true;
    for (const auto& s : t.steps) {
      Leading(s.range.line, "  ", first ? Gap::None : Gap::Source);
      first = false;
      out_ += "  ";
      Doc d;
      switch (s.kind) {
        case ast::TestStep::Kind::Given:
          d = Doc("given " + s.signal);
          if (s.value) d += (" " + Plain(*s.value));
          d += " at " + E(*s.time, 1);
          if (s.recorded) d += " recorded " + E(*s.recorded, 1);
          if (!s.id.empty()) d += (" id " + s.id);
          if (!s.status.empty()) d += (" status " + s.status);
          break;
        case ast::TestStep::Kind::ExpectAlert:
          d = Doc("expect alert");
          if (!s.severity.empty()) d += (" " + s.severity);
          d += " at " + E(*s.time, 1);
          break;
        case ast::TestStep::Kind::ExpectNoAlert: d = Doc("expect no alert at ") + E(*s.time, 1); break;
        case ast::TestStep::Kind::ExpectValue:
          d = Doc("expect " + s.signal + " = " + (s.value ? Plain(*s.value) : std::string("null")) + " at ") +
              E(*s.time, 1);
          break;
      }
      Put(d, 2);
      EndLine(s.range.end_line);
    }
    Leading(t.range.end_line, "  ", Gap::None);
    out_ += "}";
    EndLine(t.range.end_line);
  }

  // An expression's document. Every construct has one layout on a line and one broken
  // layout, taken only when the line would pass the width: an operator chain breaks
  // before each operator, a call after `(` and each argument, `case` before each `when`,
  // `else` and `end`, `if` before each `else` (and then before `then`). The outermost
  // construct breaks first. Decision tables (an else-if chain, a `case` of several
  // `when`s) always break. Bands put one row per line at `depth`.
  Doc E(const Expr& e, int depth) {
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
      case ExprKind::Paren: return Doc("(") + E(*e.kids[0], depth) + ")";
      case ExprKind::Unary: return Doc(std::string(Spelling(e.op))) + E(*e.kids[0], depth);
      case ExprKind::Binary: {
        // `a or b or c` is one chain (the parser nests it to the left).
        std::vector<const Expr*> operands;
        const Expr* x = &e;
        for (; x->kind == ExprKind::Binary && x->op == e.op; x = x->kids[0].get()) operands.push_back(x->kids[1].get());
        Doc rest;
        for (auto it = operands.rbegin(); it != operands.rend(); ++it) {
          rest += Line() + (std::string(Spelling(e.op)) + " ") + E(**it, depth);
        }
        return Group(E(*x, depth) + Nest(rest));
      }
      case ExprKind::Is:
        return E(*e.kids[0], depth) + (std::string(" is ") + (e.negated ? "not " : "") + Spelling(e.op));
      case ExprKind::As: return E(*e.kids[0], depth) + (" as " + e.text);
      case ExprKind::Step: return Doc(std::string(Spelling(e.op)) + " of ") + E(*e.kids[0], depth);
      case ExprKind::Limit: return Spelling(e.op) + (" " + e.name2);
      case ExprKind::Not: return Doc("not ") + E(*e.kids[0], depth);
      case ExprKind::Sustained: return E(*e.kids[0], depth) + " for " + E(*e.kids[1], depth);
      case ExprKind::If: {
        // Each `else` on its own line; then, if `if c then a` is still too long, `then` on
        // its own. An else-if chain breaks before its `else`s in the canonical text too,
        // one level in from `depth`.
        auto arm = [&](const Expr& c, const Expr& a) {
          return Group(Doc("if ") + Nest(E(c, depth)) + Nest(Line() + "then " + E(a, depth)));
        };
        // Each branch keeps the comments written on its lines (statements in order: the
        // comments are taken as the branches are printed).
        Doc head = arm(*e.kids[0], *e.kids[1]);
        head += CommentsOn(e.kids[1]->range.end_line);
        const Expr* rest = e.kids[2].get();
        bool chain = rest->kind == ExprKind::If;
        int canonical_indent = chain ? (depth + 1) * 2 : -1;
        Doc elses;
        for (; chain && rest->kind == ExprKind::If; rest = rest->kids[2].get()) {
          elses += Line(" ", canonical_indent);
          elses += CommentsBefore(rest->kids[0]->range.line);
          elses += "else " + arm(*rest->kids[0], *rest->kids[1]);
          elses += CommentsOn(rest->kids[1]->range.end_line);
        }
        elses += Line(" ", canonical_indent);
        elses += CommentsBefore(rest->range.line);
        elses += "else " + E(*rest, depth);
        elses += CommentsOn(rest->range.end_line);
        return Group(head + Nest(elses), chain, chain);
      }
      case ExprKind::Case: {
        Doc head("case");
        size_t i = 0;
        if (e.has_subject) head += " " + E(*e.kids[i++], depth);
        Doc arms;
        for (; i + 1 < e.kids.size(); i += 2) {
          arms += Line();
          arms += CommentsBefore(e.kids[i]->range.line);
          arms += "when " + Nest(E(*e.kids[i], depth));
          arms += " then " + Nest(E(*e.kids[i + 1], depth));
          arms += CommentsOn(e.kids[i + 1]->range.end_line);
        }
        arms += Line();
        arms += CommentsBefore(e.kids.back()->range.line);
        arms += "else " + E(*e.kids.back(), depth);
        arms += CommentsOn(e.kids.back()->range.end_line);
        size_t whens = (e.kids.size() - (e.has_subject ? 1 : 0) - 1) / 2;
        return Group(head + Nest(arms) + Line() + "end", whens > 1);
      }
      case ExprKind::Bands: return Bands(e, depth);
      case ExprKind::Absence: return Doc("no " + e.text + " within ") + E(*e.kids[0], depth);
      case ExprKind::Sequence: return Doc(e.text + " then " + e.name2 + " within ") + E(*e.kids[0], depth);
      case ExprKind::Call: {
        if (e.args.empty()) return e.text + "()";
        Doc args;
        for (size_t i = 0; i < e.args.size(); ++i) {
          args += (i ? Line() : Line("")) + E(*e.args[i].value, depth);
          if (e.args[i].window) args += " within " + E(*e.args[i].window, depth);
          if (i + 1 < e.args.size()) args += ",";
        }
        return Group(Doc(e.text + "(") + Nest(args) + Line("") + ")");
      }
    }
    return "";
  }

  // The single-line comments before `line` (not yet printed), each on a line of its own.
  Doc CommentsBefore(int32_t line) {
    Doc d;
    for (const ast::Comment* c; (c = OneLineCommentBy(line - 1)) != nullptr; ++next_) {
      d += Doc(c->text) + Group(Line(), /*table=*/true);  // a line break, always
    }
    return d;
  }

  // The single-line comments up to `line` (not yet printed), at the end of the line they
  // fall on.
  Doc CommentsOn(int32_t line) {
    Doc d;
    for (const ast::Comment* c; (c = OneLineCommentBy(line)) != nullptr; ++next_) d += Suffix(c->text);
    return d;
  }

  // A bands block is text of several lines: rows are whole lines, so comments between rows
  // stay between rows.
  Doc Bands(const Expr& e, int depth) {
    std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
    std::string saved;
    std::swap(saved, out_);
    out_ += "bands " + Printer(0).Print(E(*e.kids[0], depth), 0, 0) + " {";
    EndLine(e.kids[0]->range.end_line);
    for (const auto& row : e.rows) {
      Leading(row.range.line, indent, Gap::None);
      out_ += indent + Cond(row) + ": ";
      Put(E(*row.value, depth + 1), (depth + 1) * 2);
      out_ += ";";
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
  int width_;                // the line width; 0: the canonical text
  bool with_status_ = true;  // RuleOnly for the content hash leaves `status` out
};

}  // namespace

std::string Format(const ast::File& file, const std::string& source) {
  return Formatter(&file, source, kLineWidth).Run();
}

std::string FormatBandCondition(const ast::BandRow& row) { return Formatter(nullptr, "", 0).BandCondition(row); }

std::string FormatRule(const ast::Rule& rule, bool with_status, int width) {
  return Formatter(nullptr, "", width).RuleOnly(rule, with_status);
}

}  // namespace cdr::format
