// compiler/syntax/parse.cpp: runs the ANTLR lexer and parser and builds the AST.
// Input is checked before ANTLR sees it (size, UTF-8, nesting) so that no input can
// make the parser throw, recurse without bound or take unbounded memory.
#include "compiler/syntax/parse.h"

#include <antlr4-runtime.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

#include "CdrLexer.h"
#include "CdrParser.h"
#include "compiler/source/suggest.h"
#include "stdlib/utf8.h"

namespace cdr::syntax {
namespace {

using cdr_grammar::CdrLexer;
using cdr_grammar::CdrParser;
using source::SourceRange;

// ---- ranges ---------------------------------------------------------------

SourceRange TokenRange(source::FileId file, const antlr4::Token* t) {
  SourceRange r;
  r.file = file;
  if (!t) return r;
  r.line = static_cast<int32_t>(t->getLine());
  r.column = static_cast<int32_t>(t->getCharPositionInLine()) + 1;
  std::string text = t->getType() == antlr4::Token::EOF ? "" : t->getText();
  // Tokens span lines only for block comments.
  size_t nl = text.rfind('\n');
  if (nl == std::string::npos) {
    r.end_line = r.line;
    r.end_column = r.column + source::CodePoints(text);
  } else {
    int32_t lines = 0;
    for (char c : text) lines += c == '\n';
    r.end_line = r.line + lines;
    r.end_column = 1 + source::CodePoints(std::string_view(text).substr(nl + 1));
  }
  return r;
}

SourceRange Span(const SourceRange& a, const SourceRange& b) {
  SourceRange r = a;
  r.end_line = b.end_line;
  r.end_column = b.end_column;
  return r;
}

// ---- input checks -----------------------------------------------------------

// Replaces each invalid UTF-8 sequence by '?' and reports it; returns the cleaned text.
std::string CheckUtf8(const source::SourceFile& f, source::FileId id, diag::DiagnosticEngine& diags) {
  const std::string& s = f.text();
  std::string out;
  out.reserve(s.size());
  int32_t line = 1, col = 1;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = stdlib::Utf8SequenceLength(s, i);
    bool ok = len > 0;
    if (!ok) {
      SourceRange r{id, line, col, line, col + 1};
      diags.Emit<diag::Msg::InvalidUtf8>(r, static_cast<unsigned>(c));
      out += '?';
      ++i;
      ++col;
      continue;
    }
    out.append(s, i, len);
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += len;
  }
  return out;
}

// ---- error listener ---------------------------------------------------------

std::string Describe(const antlr4::dfa::Vocabulary& vocab, size_t type) {
  switch (type) {
    case CdrParser::IDENT: return "a name";
    case CdrParser::NUMBER: return "a number";
    case CdrParser::DURATION: return "a duration";
    case CdrParser::STRING: return "a \"string\"";
    case CdrParser::SQSTRING: return "a 'text' or 'unit'";
    case CdrParser::DATETIME: return "a date-time";
    case antlr4::Token::EOF: return "end of file";
    default: {
      std::string name = vocab.getDisplayName(type);
      if (name.size() >= 2 && name.front() == '\'') name = "`" + name.substr(1, name.size() - 2) + "`";
      return name;
    }
  }
}

// The keyword a token type is (`alert`), or empty for the other tokens (names, numbers,
// punctuation): the vocabulary's literal name, when it is a quoted word.
std::string KeywordOf(const antlr4::dfa::Vocabulary& vocab, size_t type) {
  std::string l = std::string(vocab.getLiteralName(type));
  return l.size() > 2 && std::isalpha(static_cast<unsigned char>(l[1])) ? l.substr(1, l.size() - 2) : std::string{};
}

// The keyword a word that the grammar cannot take most likely is: `alrt` where `alert` is
// expected, or `lett` / `supress` starting a line of a rule (the items of the construct the
// word is in count first: `lett` is one edit from both `let` and `test`).
struct KeywordFix {
  size_t index;  // of the token
  size_t type;   // the keyword's token type
  std::string keyword;
};

std::optional<KeywordFix> KeywordFor(const antlr4::Token* t, const antlr4::misc::IntervalSet& expected,
                                     const std::vector<std::unique_ptr<antlr4::Token>>& tokens,
                                     const antlr4::dfa::Vocabulary& vocab) {
  if (!t || t->getType() != CdrLexer::IDENT || t->getTokenIndex() >= tokens.size()) return std::nullopt;
  auto word = [&](size_t type) { return KeywordOf(vocab, type); };
  auto type_of = [&](const std::string& keyword) -> size_t {
    for (size_t i = 0; i <= vocab.getMaxTokenType(); ++i) {
      if (word(i) == keyword) return i;
    }
    return 0;
  };
  const size_t index = t->getTokenIndex();
  std::vector<std::string> items;
  bool line_start = index == 0 || tokens[index - 1]->getLine() != t->getLine();
  for (size_t i = index; line_start && i-- > 0;) {  // the construct: its keyword at column 1
    const antlr4::Token* k = tokens[i].get();
    if (k->getCharPositionInLine() != 0) continue;
    std::string w = word(k->getType());
    if (w == "rule") items = ast::RuleItemKeywords();
    if (w == "schema") items = {"signal", "event", "valueset"};
    if (w == "test") items = {"given", "expect"};
    if (w == "ruleset") items = {"retention", "live", "approvals"};
    if (!w.empty()) break;
  }
  std::string best = source::Suggest(t->getText(), items);
  if (best.empty()) {
    std::vector<std::string> words;
    for (size_t type : expected.toList()) {
      if (!word(type).empty()) words.push_back(word(type));
    }
    best = source::Suggest(t->getText(), words);
  }
  if (best.empty() || best == t->getText()) return std::nullopt;
  size_t type = type_of(best);
  if (!type) return std::nullopt;
  return KeywordFix{index, type, best};
}

class ErrorListener : public antlr4::BaseErrorListener {
 public:
  ErrorListener(source::FileId file, diag::DiagnosticEngine& diags) : file_(file), diags_(diags) {}

  /// Looks for a misspelt keyword at each error (over these tokens) before reporting it;
  /// the first one found stops the reports of this pass (the file is parsed again).
  void CorrectKeywords(const std::vector<std::unique_ptr<antlr4::Token>>* tokens) { tokens_ = tokens; }
  const std::optional<KeywordFix>& fix() const { return fix_; }

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t, size_t,
                   const std::string& msg, std::exception_ptr) override {
    if (fix_) return;
    ++count_;
    auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
    if (parser && tokens_) {
      try {
        fix_ = KeywordFor(offending, parser->getExpectedTokens(), *tokens_, parser->getVocabulary());
      } catch (...) {
      }
      if (fix_) return;
    }
    SourceRange r = TokenRange(file_, offending);
    std::string found = !offending || offending->getType() == antlr4::Token::EOF
                            ? "end of file"
                            : "`" + offending->getText() + "`";
    if (r.end_column == r.column) r.end_column = r.column + 1;
    std::string expected;
    if (parser) {
      antlr4::misc::IntervalSet set;
      try {
        set = parser->getExpectedTokens();
      } catch (...) {
      }
      std::vector<std::string> names;
      for (size_t t : set.toList()) {
        if (t == CdrParser::INVALID_CHAR || t == CdrParser::UNTERMINATED_STRING) continue;
        names.push_back(Describe(parser->getVocabulary(), t));
      }
      if (!names.empty() && names.size() <= 6) {
        expected = names[0];
        for (size_t i = 1; i < names.size(); ++i) {
          expected += (i + 1 == names.size() ? " or " : ", ") + names[i];
        }
      }
    }
    if (msg.rfind("missing ", 0) == 0) {
      diags_.Emit<diag::Msg::SyntaxMissing>(r, expected.empty() ? "a token" : expected, found);
    } else if (expected.empty()) {
      diags_.Emit<diag::Msg::SyntaxUnexpected>(r, found);
    } else {
      diags_.Emit<diag::Msg::SyntaxExpected>(r, found, expected);
    }
  }

  int count() const { return count_; }

 private:
  source::FileId file_;
  diag::DiagnosticEngine& diags_;
  int count_ = 0;
  const std::vector<std::unique_ptr<antlr4::Token>>* tokens_ = nullptr;
  std::optional<KeywordFix> fix_;
};

// ---- AST building -------------------------------------------------------------

class Builder {
 public:
  Builder(source::FileId file, diag::DiagnosticEngine& diags) : file_(file), diags_(diags) {}

  SourceRange R(antlr4::ParserRuleContext* ctx) const {
    if (!ctx || !ctx->getStart()) return SourceRange{file_, 0, 0, 0, 0};
    SourceRange a = TokenRange(file_, ctx->getStart());
    antlr4::Token* stop = ctx->getStop();
    if (!stop || stop->getTokenIndex() < ctx->getStart()->getTokenIndex() ||
        stop->getType() == antlr4::Token::EOF) {
      return a;
    }
    return Span(a, TokenRange(file_, stop));
  }
  SourceRange R(antlr4::Token* t) const { return TokenRange(file_, t); }
  SourceRange R(antlr4::tree::TerminalNode* n) const { return n ? R(n->getSymbol()) : SourceRange{}; }

  static std::string Text(antlr4::tree::ParseTree* t) { return t ? t->getText() : std::string(); }
  static std::string Text(antlr4::Token* t) { return t ? t->getText() : std::string(); }

  // A closed expression, held as the one `let value` of a synthetic rule `eval`, so the
  // checker, lowering and interpreter treat it as any other rule.
  void Expression(CdrParser::ExprInputContext* ctx, ast::File& out) {
    auto r = std::make_unique<ast::Rule>();
    r->range = R(ctx);
    r->name = "eval";
    r->name_range = r->range;
    r->synthetic = true;
    ast::RuleItem it;
    it.kind = ast::RuleItem::Kind::Let;
    it.range = r->range;
    it.names.push_back("value");
    it.name_ranges.push_back(r->range);
    it.expr = Expr(ctx->expr());
    r->items.push_back(std::move(it));
    ast::Decl decl;
    decl.range = r->range;
    decl.rule = std::move(r);
    out.decls.push_back(std::move(decl));
  }

  void File(CdrParser::FileContext* ctx, ast::File& out) {
    for (auto* d : ctx->decl()) {
      ast::Decl decl;
      decl.range = R(d);
      if (auto* s = d->schemaDecl()) decl.schema = Schema(s);
      else if (auto* r = d->ruleDecl()) decl.rule = Rule(r);
      else if (auto* t = d->testDecl()) decl.test = Test(t);
      else if (auto* rs = d->rulesetDecl()) decl.ruleset = Ruleset(rs);
      else continue;
      out.decls.push_back(std::move(decl));
    }
  }

 private:
  std::vector<ast::CodeGroup> Codes(const std::vector<CdrParser::CodeGroupContext*>& groups) {
    std::vector<ast::CodeGroup> out;
    for (auto* g : groups) {
      ast::CodeGroup cg;
      cg.range = R(g);
      cg.system = Text(g->system);
      for (auto* s : g->STRING()) cg.codes.push_back(Text(s));
      out.push_back(std::move(cg));
    }
    return out;
  }

  ast::ValueType Type(CdrParser::ValueTypeContext* ctx) {
    ast::ValueType t;
    if (!ctx) return t;
    t.range = R(ctx);
    if (auto* q = dynamic_cast<CdrParser::QuantityTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Quantity;
      t.unit = ast::Unquote(Text(q->unit));
      t.unit_range = R(q->unit);
    } else if (dynamic_cast<CdrParser::BooleanTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Boolean;
    } else if (dynamic_cast<CdrParser::IntegerTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Integer;
    } else if (dynamic_cast<CdrParser::DecimalTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Decimal;
    } else if (dynamic_cast<CdrParser::TextTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Text;
    } else if (auto* c = dynamic_cast<CdrParser::CodeTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Code;
      t.valueset = Text(c->valueset);
    } else if (auto* e = dynamic_cast<CdrParser::EnumTypeContext*>(ctx)) {
      t.kind = ast::ValueType::Kind::Enum;
      for (auto* m : e->enumMember()) {
        t.members.push_back(Text(m));
        t.member_ranges.push_back(R(m));
      }
    }
    return t;
  }

  std::unique_ptr<ast::SignalDecl> Signal(bool is_event, CdrParser::IdentContext* name,
                                          CdrParser::ValueTypeContext* type,
                                          const std::vector<CdrParser::SignalClauseContext*>& clauses,
                                          antlr4::ParserRuleContext* whole) {
    auto s = std::make_unique<ast::SignalDecl>();
    s->is_event = is_event;
    s->range = R(whole);
    s->name = Text(name);
    s->name_range = R(name);
    s->type = Type(type);
    for (auto* c : clauses) {
      if (auto* codes = dynamic_cast<CdrParser::CodesClauseContext*>(c)) {
        for (auto& g : Codes(codes->codeGroup())) s->codes.push_back(std::move(g));
      } else if (auto* p = dynamic_cast<CdrParser::PlausibleClauseContext*>(c)) {
        s->has_plausible = true;
        s->plausible_low = Text(p->low);
        s->plausible_high = Text(p->high);
        s->keep_implausible = p->policy && p->policy->getText() == "keep";
        s->plausible_range = R(p);
      } else if (auto* cv = dynamic_cast<CdrParser::ConvertClauseContext*>(c)) {
        ast::Conversion conv;
        conv.range = R(cv);
        conv.unit = ast::Unquote(Text(cv->unit));
        conv.unit_range = R(cv->unit);
        conv.factor = Text(cv->factor);
        conv.factor_range = R(cv->factor);
        s->conversions.push_back(std::move(conv));
      } else if (auto* from = dynamic_cast<CdrParser::FromClauseContext*>(c)) {
        s->kind = Text(from->kind);
        s->kind_range = R(from->kind);
      }
    }
    return s;
  }

  std::unique_ptr<ast::Schema> Schema(CdrParser::SchemaDeclContext* ctx) {
    auto s = std::make_unique<ast::Schema>();
    s->range = R(ctx);
    s->name = Text(ctx->name);
    s->name_range = R(ctx->name);
    if (ctx->version) {
      s->version = Text(ctx->version);
      s->version_range = R(ctx->version);
    }
    for (auto* item : ctx->schemaItem()) {
      ast::SchemaItem si;
      si.range = R(item);
      if (auto* sig = dynamic_cast<CdrParser::SignalDeclContext*>(item)) {
        si.signal = Signal(false, sig->name, sig->valueType(), sig->signalClause(), sig);
      } else if (auto* ev = dynamic_cast<CdrParser::EventDeclContext*>(item)) {
        si.signal = Signal(true, ev->name, ev->valueType(), ev->signalClause(), ev);
      } else if (auto* vs = dynamic_cast<CdrParser::ValuesetDeclContext*>(item)) {
        si.valueset = std::make_unique<ast::ValuesetDecl>();
        si.valueset->range = R(vs);
        si.valueset->name = Text(vs->name);
        si.valueset->name_range = R(vs->name);
        si.valueset->codes = Codes(vs->codeGroup());
      } else {
        continue;
      }
      s->items.push_back(std::move(si));
    }
    return s;
  }

  std::unique_ptr<ast::Ruleset> Ruleset(CdrParser::RulesetDeclContext* ctx) {
    auto r = std::make_unique<ast::Ruleset>();
    r->range = R(ctx);
    r->name = Text(ctx->name);
    r->name_range = R(ctx->name);
    if (ctx->retention) r->retention = Expr(ctx->retention);
    for (auto* item : ctx->rulesetItem()) {
      if (auto* live = dynamic_cast<CdrParser::LiveItemContext*>(item)) {
        r->live = Text(live->status);
        r->live_range = R(live->status);
      } else if (auto* ap = dynamic_cast<CdrParser::ApprovalPolicyItemContext*>(item)) {
        r->approvals = Text(ap->count);  // null after a syntax error in the item
        r->approvals_range = R(ap->count);
        for (auto* s : ap->STRING()) {
          r->roles.push_back(s->getText());
          r->role_ranges.push_back(R(s));
        }
        r->signed_approvals = ap->isSigned != nullptr;
      }
    }
    return r;
  }

  std::unique_ptr<ast::Rule> Rule(CdrParser::RuleDeclContext* ctx) {
    auto r = std::make_unique<ast::Rule>();
    r->range = R(ctx);
    r->name = Text(ctx->name);
    r->name_range = R(ctx->name);
    if (ctx->version) {
      r->version = Text(ctx->version);
      r->version_range = R(ctx->version);
    }
    using K = ast::RuleItem::Kind;
    for (auto* item : ctx->ruleItem()) {
      ast::RuleItem it;
      it.range = R(item);
      auto strings = [&](const std::vector<antlr4::tree::TerminalNode*>& v) {
        for (auto* s : v) {
          it.strings.push_back(Text(s));
          it.string_ranges.push_back(R(s));
        }
      };
      auto name = [&](CdrParser::IdentContext* id) {
        it.names.push_back(Text(id));
        it.name_ranges.push_back(R(id));
      };
      if (auto* t = dynamic_cast<CdrParser::TitleItemContext*>(item)) {
        it.kind = K::Title;
        strings({t->STRING()});
      } else if (auto* o = dynamic_cast<CdrParser::OwnerItemContext*>(item)) {
        it.kind = K::Owner;
        strings({o->STRING()});
      } else if (auto* st = dynamic_cast<CdrParser::StatusItemContext*>(item)) {
        it.kind = K::Status;
        name(st->value);
      } else if (auto* c = dynamic_cast<CdrParser::CitesItemContext*>(item)) {
        it.kind = K::Cites;
        strings(c->STRING());
      } else if (auto* a = dynamic_cast<CdrParser::ApprovalsItemContext*>(item)) {
        it.kind = K::Approvals;
        strings(a->STRING());
      } else if (auto* u = dynamic_cast<CdrParser::UsesItemContext*>(item)) {
        it.kind = K::Uses;
        for (auto* id : u->ident()) name(id);
      } else if (auto* l = dynamic_cast<CdrParser::LetItemContext*>(item)) {
        it.kind = K::Let;
        name(l->name);
        it.expr = Expr(l->expr());
      } else if (auto* w = dynamic_cast<CdrParser::WhenItemContext*>(item)) {
        it.kind = K::When;
        it.expr = Expr(w->expr());
        name(w->severity);
        it.message = Text(w->message);
        it.message_range = R(w->message);
      } else if (auto* s = dynamic_cast<CdrParser::SuppressItemContext*>(item)) {
        it.kind = K::Suppress;
        it.expr = Expr(s->expr());
      } else if (auto* a = dynamic_cast<CdrParser::AllowItemContext*>(item)) {
        it.kind = K::Allow;
        std::string finding;
        for (auto* id : a->finding->ident()) finding += (finding.empty() ? "" : "-") + Text(id);
        it.names.push_back(finding);
        it.name_ranges.push_back(R(a->finding));
        it.strings.push_back(Text(a->reason));
        it.string_ranges.push_back(R(a->reason));
      } else {
        continue;
      }
      for (auto& s : it.strings) {
        if (s.empty()) s = "\"\"";
      }
      r->items.push_back(std::move(it));
    }
    return r;
  }

  ast::PlainValue Plain(CdrParser::SignedNumberContext* num, antlr4::Token* unit, antlr4::Token* text,
                        bool is_true, bool is_false, antlr4::ParserRuleContext* whole) {
    ast::PlainValue v;
    v.range = R(whole);
    if (num) {
      v.kind = ast::PlainValue::Kind::Number;
      v.text = Text(num);
      if (unit) {
        v.unit = ast::Unquote(Text(unit));
        v.unit_range = R(unit);
      }
    } else if (text) {
      v.kind = ast::PlainValue::Kind::Text;
      v.text = ast::Unquote(Text(text));
    } else {
      v.kind = ast::PlainValue::Kind::Bool;
      v.text = is_true ? "true" : (is_false ? "false" : "");
    }
    return v;
  }

  ast::PlainValue BandValue(CdrParser::BandValueContext* ctx) {
    if (!ctx) return {};
    return Plain(ctx->signedNumber(), ctx->unit, ctx->SQSTRING() && !ctx->signedNumber() ? ctx->SQSTRING()->getSymbol() : nullptr,
                 ctx->getStart() && ctx->getStart()->getText() == "true",
                 ctx->getStart() && ctx->getStart()->getText() == "false", ctx);
  }

  ast::PlainValue TestValue(CdrParser::TestValueContext* v) {
    return Plain(v->signedNumber(), v->unit, v->SQSTRING() && !v->signedNumber() ? v->SQSTRING()->getSymbol() : nullptr,
                 v->getStart() && v->getStart()->getText() == "true", v->getStart() && v->getStart()->getText() == "false", v);
  }

  std::unique_ptr<ast::Test> Test(CdrParser::TestDeclContext* ctx) {
    auto t = std::make_unique<ast::Test>();
    t->range = R(ctx);
    t->name = Text(ctx->name);
    if (t->name.empty()) t->name = "\"\"";
    t->target = Text(ctx->target);
    t->target_range = R(ctx->target);
    for (auto* step : ctx->testStep()) {
      ast::TestStep s;
      s.range = R(step);
      if (auto* g = dynamic_cast<CdrParser::GivenStepContext*>(step)) {
        s.kind = ast::TestStep::Kind::Given;
        s.signal = Text(g->signal);
        s.signal_range = R(g->signal);
        if (auto* v = g->value) s.value = TestValue(v);
        s.time = Expr(g->time);
        if (g->recorded) s.recorded = Expr(g->recorded);
        if (g->id) s.id = Text(g->id);
        if (g->status) {
          s.status = Text(g->status);
          s.status_range = R(g->status);
        }
      } else if (auto* e = dynamic_cast<CdrParser::ExpectAlertStepContext*>(step)) {
        s.kind = ast::TestStep::Kind::ExpectAlert;
        if (e->severity) {
          s.severity = Text(e->severity);
          s.severity_range = R(e->severity);
        }
        s.time = Expr(e->time);
      } else if (auto* n = dynamic_cast<CdrParser::ExpectNoAlertStepContext*>(step)) {
        s.kind = ast::TestStep::Kind::ExpectNoAlert;
        s.time = Expr(n->time);
      } else if (auto* x = dynamic_cast<CdrParser::ExpectValueStepContext*>(step)) {
        s.kind = ast::TestStep::Kind::ExpectValue;
        s.signal = Text(x->name);
        s.signal_range = R(x->name);
        if (auto* v = x->value) s.value = TestValue(v);
        s.time = Expr(x->time);
      } else {
        continue;
      }
      t->steps.push_back(std::move(s));
    }
    return t;
  }

  ast::ExprPtr Make(ast::ExprKind kind, antlr4::ParserRuleContext* ctx) {
    auto e = std::make_unique<ast::Expr>();
    e->kind = kind;
    e->range = R(ctx);
    return e;
  }

 public:
  ast::ExprPtr Expr(CdrParser::ExprContext* ctx) {
    if (!ctx) {
      auto e = std::make_unique<ast::Expr>();
      e->range = SourceRange{file_, 0, 0, 0, 0};
      return e;
    }
    if (++depth_ > kMaxNesting) {
      --depth_;
      if (!reported_depth_) {
        reported_depth_ = true;
        diags_.Emit<diag::Msg::NestingTooDeep>(R(ctx), kMaxNesting);
      }
      return Make(ast::ExprKind::Error, ctx);
    }
    ast::ExprPtr e = ExprInner(ctx);
    --depth_;
    return e;
  }

 private:
  ast::ExprPtr Binary(antlr4::ParserRuleContext* ctx, antlr4::Token* op, CdrParser::ExprContext* a,
                      CdrParser::ExprContext* b) {
    auto e = Make(ast::ExprKind::Binary, ctx);
    e->op = ast::OperatorNamed(Text(op));
    if (e->op == ast::Operator::None) return Make(ast::ExprKind::Error, ctx);  // a token made by error recovery
    e->kids.push_back(Expr(a));
    e->kids.push_back(Expr(b));
    return e;
  }

  ast::ExprPtr ExprInner(CdrParser::ExprContext* ctx) {
    using K = ast::ExprKind;
    if (auto* p = dynamic_cast<CdrParser::PrimaryExprContext*>(ctx)) return Primary(p->primary());
    if (auto* u = dynamic_cast<CdrParser::UnaryExprContext*>(ctx)) {
      auto e = Make(K::Unary, ctx);
      e->op = ast::OperatorNamed(Text(u->op));
      if (e->op == ast::Operator::None) return Make(K::Error, ctx);
      e->kids.push_back(Expr(u->expr()));
      return e;
    }
    if (auto* c = dynamic_cast<CdrParser::CoalesceExprContext*>(ctx)) return Binary(ctx, c->op, c->expr(0), c->expr(1));
    if (auto* m = dynamic_cast<CdrParser::MulExprContext*>(ctx)) return Binary(ctx, m->op, m->expr(0), m->expr(1));
    if (auto* a = dynamic_cast<CdrParser::AddExprContext*>(ctx)) return Binary(ctx, a->op, a->expr(0), a->expr(1));
    if (auto* c = dynamic_cast<CdrParser::CompareExprContext*>(ctx)) return Binary(ctx, c->op, c->expr(0), c->expr(1));
    if (auto* q = dynamic_cast<CdrParser::EqualExprContext*>(ctx)) return Binary(ctx, q->op, q->expr(0), q->expr(1));
    if (auto* a = dynamic_cast<CdrParser::AndExprContext*>(ctx)) return Binary(ctx, a->op, a->expr(0), a->expr(1));
    if (auto* o = dynamic_cast<CdrParser::OrExprContext*>(ctx)) return Binary(ctx, o->op, o->expr(0), o->expr(1));
    if (auto* i = dynamic_cast<CdrParser::ImpliesExprContext*>(ctx)) return Binary(ctx, i->op, i->expr(0), i->expr(1));
    if (auto* pw = dynamic_cast<CdrParser::PowerExprContext*>(ctx)) return Binary(ctx, pw->op, pw->expr(0), pw->expr(1));
    if (auto* st = dynamic_cast<CdrParser::StepExprContext*>(ctx)) {
      auto e = Make(K::Step, ctx);
      e->op = ast::OperatorNamed(Text(st->op));
      if (e->op == ast::Operator::None) return Make(K::Error, ctx);
      e->kids.push_back(Expr(st->expr()));
      return e;
    }
    if (auto* as = dynamic_cast<CdrParser::AsExprContext*>(ctx)) {
      auto e = Make(K::As, ctx);
      e->text = Text(as->type);
      e->name_range = R(as->type);
      e->kids.push_back(Expr(as->expr()));
      return e;
    }
    if (auto* i = dynamic_cast<CdrParser::IsExprContext*>(ctx)) {
      auto e = Make(K::Is, ctx);
      e->op = ast::OperatorNamed(Text(i->test));
      if (e->op == ast::Operator::None) return Make(K::Error, ctx);
      e->negated = i->negated != nullptr;
      e->kids.push_back(Expr(i->expr()));
      return e;
    }
    if (auto* s = dynamic_cast<CdrParser::SustainedExprContext*>(ctx)) {
      auto e = Make(K::Sustained, ctx);
      e->kids.push_back(Expr(s->expr(0)));
      e->kids.push_back(Expr(s->expr(1)));
      return e;
    }
    if (auto* n = dynamic_cast<CdrParser::NotExprContext*>(ctx)) {
      auto e = Make(K::Not, ctx);
      e->kids.push_back(Expr(n->expr()));
      return e;
    }
    return Make(K::Error, ctx);
  }

  ast::ExprPtr Primary(CdrParser::PrimaryContext* ctx) {
    using K = ast::ExprKind;
    if (!ctx) return Make(K::Error, nullptr);
    if (auto* l = dynamic_cast<CdrParser::LiteralPrimaryContext*>(ctx)) return Literal(l->literal());
    if (auto* p = dynamic_cast<CdrParser::ParenPrimaryContext*>(ctx)) {
      auto e = Make(K::Paren, ctx);
      e->kids.push_back(Expr(p->expr()));
      return e;
    }
    if (auto* i = dynamic_cast<CdrParser::IfPrimaryContext*>(ctx)) {
      auto e = Make(K::If, ctx);
      e->kids.push_back(Expr(i->cond));
      e->kids.push_back(Expr(i->then));
      e->kids.push_back(Expr(i->otherwise));
      return e;
    }
    if (auto* c = dynamic_cast<CdrParser::CasePrimaryContext*>(ctx)) {
      auto e = Make(K::Case, ctx);
      if (c->subject) {
        e->has_subject = true;
        e->kids.push_back(Expr(c->subject));
      }
      for (auto* item : c->caseItem()) {
        e->kids.push_back(Expr(item->when));
        e->kids.push_back(Expr(item->then));
      }
      e->kids.push_back(Expr(c->otherwise));
      return e;
    }
    if (auto* b = dynamic_cast<CdrParser::BandsPrimaryContext*>(ctx)) {
      auto e = Make(K::Bands, ctx);
      e->kids.push_back(Expr(b->subject));
      for (auto* row : b->bandRow()) {
        ast::BandRow br;
        if (auto* cr = dynamic_cast<CdrParser::CondRowContext*>(row)) {
          auto* cond = cr->bandCond();
          br.range = R(cond);
          if (auto* rc = dynamic_cast<CdrParser::RangeCondContext*>(cond)) {
            br.kind = ast::BandRow::Kind::Range;
            br.low = BandValue(rc->low);
            br.high = BandValue(rc->high);
          } else if (auto* bc = dynamic_cast<CdrParser::BoundCondContext*>(cond)) {
            br.kind = ast::BandRow::Kind::Bounds;
            for (auto* bound : bc->bandBound()) {
              br.bounds.push_back(ast::BandBound{ast::OperatorNamed(Text(bound->op)), BandValue(bound->bandValue())});
            }
          } else if (auto* ec = dynamic_cast<CdrParser::ExactCondContext*>(cond)) {
            br.kind = ast::BandRow::Kind::Exact;
            br.low = BandValue(ec->bandValue());
          }
          br.value = Expr(cr->value);
        } else if (auto* er = dynamic_cast<CdrParser::ElseRowContext*>(row)) {
          br.kind = ast::BandRow::Kind::Else;
          br.range = R(er->getStart());
          br.value = Expr(er->value);
        } else {
          continue;
        }
        e->rows.push_back(std::move(br));
      }
      return e;
    }
    if (auto* a = dynamic_cast<CdrParser::AbsencePrimaryContext*>(ctx)) {
      auto e = Make(K::Absence, ctx);
      e->text = Text(a->signal);
      e->name_range = R(a->signal);
      e->kids.push_back(Window(a->window));
      return e;
    }
    if (auto* s = dynamic_cast<CdrParser::SequencePrimaryContext*>(ctx)) {
      auto e = Make(K::Sequence, ctx);
      e->text = Text(s->first);
      e->name_range = R(s->first);
      e->name2 = Text(s->second);
      e->name2_range = R(s->second);
      e->kids.push_back(Window(s->window));
      return e;
    }
    if (auto* l = dynamic_cast<CdrParser::LimitPrimaryContext*>(ctx)) {
      auto e = Make(K::Limit, ctx);
      e->op = ast::OperatorNamed(Text(l->op));
      if (e->op == ast::Operator::None) return Make(K::Error, ctx);
      e->name2 = Text(l->type);
      e->name2_range = R(l->type);
      return e;
    }
    if (auto* c = dynamic_cast<CdrParser::CallPrimaryContext*>(ctx)) {
      auto e = Make(K::Call, ctx);
      e->text = Text(c->callee);
      e->name_range = R(c->callee);
      for (auto* arg : c->callArg()) {
        ast::CallArg ca;
        ca.value = Expr(arg->value);
        if (arg->window) ca.window = Window(arg->window);
        e->args.push_back(std::move(ca));
      }
      return e;
    }
    if (auto* n = dynamic_cast<CdrParser::NamePrimaryContext*>(ctx)) {
      auto e = Make(K::Name, ctx);
      e->text = Text(n->signalName());
      e->name_range = R(n->signalName());
      return e;
    }
    return Make(K::Error, ctx);
  }

  // A window's length: the same tree as the expression it is written as (`-1h` a negation,
  // `(2h)` a parenthesis), so the checker and the formatter see no difference.
  ast::ExprPtr Window(CdrParser::WindowLengthContext* ctx) {
    if (auto* l = dynamic_cast<CdrParser::LiteralWindowContext*>(ctx)) {
      auto value = Literal(l->literal());
      if (!l->sign) return value;
      auto e = Make(ast::ExprKind::Unary, ctx);
      e->op = ast::Operator::Minus;
      e->kids.push_back(std::move(value));
      return e;
    }
    if (auto* p = dynamic_cast<CdrParser::ParenWindowContext*>(ctx)) {
      auto e = Make(ast::ExprKind::Paren, ctx);
      e->kids.push_back(Expr(p->expr()));
      return e;
    }
    return Make(ast::ExprKind::Error, ctx);
  }

  ast::ExprPtr Literal(CdrParser::LiteralContext* ctx) {
    using K = ast::ExprKind;
    if (!ctx) return Make(K::Error, nullptr);
    if (dynamic_cast<CdrParser::TrueLiteralContext*>(ctx) || dynamic_cast<CdrParser::FalseLiteralContext*>(ctx)) {
      auto e = Make(K::Bool, ctx);
      e->text = Text(ctx);
      return e;
    }
    if (dynamic_cast<CdrParser::NullLiteralContext*>(ctx)) return Make(K::Null, ctx);
    if (auto* n = dynamic_cast<CdrParser::NumberLiteralContext*>(ctx)) {
      bool quantity = n->unit || n->temporal;
      auto e = Make(quantity ? K::Quantity : K::Number, ctx);
      e->text = Text(n->NUMBER());
      e->name_range = R(n->NUMBER());
      if (n->unit) {
        e->unit = ast::Unquote(Text(n->unit));
        e->quoted_unit = true;
        e->name2_range = R(n->unit);
      } else if (n->temporal) {
        e->unit = Text(n->temporal);
        e->name2_range = R(n->temporal);
      }
      return e;
    }
    if (auto* d = dynamic_cast<CdrParser::DurationLiteralContext*>(ctx)) {
      auto e = Make(K::Duration, ctx);
      std::string t = Text(d->DURATION());
      size_t i = 0;
      while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
      e->text = t.substr(0, i);
      e->unit = t.substr(i);
      return e;
    }
    if (auto* t = dynamic_cast<CdrParser::TextLiteralContext*>(ctx)) {
      auto e = Make(K::Text, ctx);
      e->text = Text(t->SQSTRING());
      return e;
    }
    if (auto* d = dynamic_cast<CdrParser::DatetimeLiteralContext*>(ctx)) {
      auto e = Make(K::DateTime, ctx);
      e->text = Text(d->DATETIME());
      return e;
    }
    return Make(K::Error, ctx);
  }

  source::FileId file_;
  diag::DiagnosticEngine& diags_;
  int depth_ = 0;
  bool reported_depth_ = false;
};

// Estimates how deeply the parser will recurse: brackets, `if`/`case` and runs of
// prefix operators. Returns the first token past the limit, or nullptr.
const antlr4::Token* TooDeep(const std::vector<std::unique_ptr<antlr4::Token>>& tokens) {
  int depth = 0, prefix_run = 0;
  for (const auto& t : tokens) {
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
    std::string s = t->getType() == CdrLexer::IDENT ? "" : t->getText();
    bool prefix = s == "-" || s == "+" || s == "not" || s == "if" || s == "case" || s == "bands" ||
                  s == "then" || s == "else" || s == "when";
    if (s == "(" || s == "{" || s == "if" || s == "case") ++depth;
    if (s == ")" || s == "}" || s == "end" || s == "else") depth = std::max(0, depth - 1);
    prefix_run = prefix ? prefix_run + 1 : 0;
    if (depth + prefix_run > kMaxNesting) return t.get();
  }
  return nullptr;
}

}  // namespace

namespace {

ast::File ParseAs(const source::SourceManager& sources, source::FileId file, diag::DiagnosticEngine& diags,
                  size_t max_file_bytes, bool expression) {
  ast::File out;
  out.file = file;
  const source::SourceFile& f = sources.Get(file);
  if (f.text().size() > max_file_bytes) {
    diags.Emit<diag::Msg::FileTooLarge>(SourceRange{file, 0, 0, 0, 0}, f.text().size(), max_file_bytes);
    return out;
  }
  size_t errors_before = diags.ErrorsIn(file);
  std::string text = CheckUtf8(f, file, diags);
  try {
    antlr4::ANTLRInputStream input(text);
    CdrLexer lexer(&input);
    lexer.removeErrorListeners();
    std::vector<std::unique_ptr<antlr4::Token>> all = lexer.getAllTokens();
    // Report bad characters and unterminated strings once here; the parser never sees them
    // (an unterminated string is passed on as a string so parsing can go on).
    std::vector<std::unique_ptr<antlr4::Token>> kept;
    for (auto& t : all) {
      if (t->getType() == CdrLexer::INVALID_CHAR) {
        diags.Emit<diag::Msg::InvalidCharacter>(TokenRange(file, t.get()), t->getText());
        continue;
      }
      if (t->getType() == CdrLexer::UNTERMINATED_STRING) {
        diags.Emit<diag::Msg::UnterminatedString>(TokenRange(file, t.get()));
        auto* ct = dynamic_cast<antlr4::CommonToken*>(t.get());
        bool single = !t->getText().empty() && t->getText()[0] == '\'';
        if (ct) {
          ct->setType(single ? CdrLexer::SQSTRING : CdrLexer::STRING);
          ct->setText(t->getText() + (single ? "'" : "\""));
        }
      }
      if (t->getChannel() == antlr4::Token::HIDDEN_CHANNEL) {
        out.comments.push_back(ast::Comment{TokenRange(file, t.get()), t->getText()});
      }
      kept.push_back(std::move(t));
    }
    if (const antlr4::Token* deep = TooDeep(kept)) {
      diags.Emit<diag::Msg::NestingTooDeep>(TokenRange(file, deep), kMaxNesting);
      return out;
    }
    if (kept.empty()) {  // an empty file (ListTokenSource refuses an empty list)
      out.parsed_cleanly = diags.ErrorsIn(file) == errors_before;
      return out;
    }
    // A misspelt keyword (`alrt`) is reported as such, with a fix-it, and the file is parsed
    // again as if it were spelt right, so it causes no cascade of errors after it.
    // Each fix costs a parse: a few on a large file (robustness.md's time bound).
    const int max_keyword_fixes = kept.size() > 20000 ? 3 : 20;
    for (int pass = 0;; ++pass) {
      std::vector<std::unique_ptr<antlr4::Token>> copy;
      copy.reserve(kept.size());
      for (const auto& t : kept) copy.push_back(std::make_unique<antlr4::CommonToken>(t.get()));
      antlr4::ListTokenSource source(std::move(copy));
      antlr4::CommonTokenStream tokens(&source);
      CdrParser parser(&tokens);
      diag::DiagnosticEngine pass_diags(sources, SIZE_MAX);
      ErrorListener listener(file, pass_diags);
      if (pass < max_keyword_fixes) listener.CorrectKeywords(&kept);
      parser.removeErrorListeners();
      parser.addErrorListener(&listener);
      CdrParser::ExprInputContext* expr_tree = nullptr;
      CdrParser::FileContext* file_tree = nullptr;
      if (expression) {
        expr_tree = parser.exprInput();
      } else {
        file_tree = parser.file();
      }
      if (const auto& fix = listener.fix()) {
        antlr4::Token* t = kept[fix->index].get();
        diag::Diagnostic* d = diags.Emit<diag::Msg::KeywordTypo>(TokenRange(file, t), t->getText(), fix->keyword);
        if (d) d->fixes.push_back(diag::FixIt{TokenRange(file, t), fix->keyword});
        if (auto* ct = dynamic_cast<antlr4::CommonToken*>(t)) ct->setType(fix->type);
        continue;
      }
      for (const auto& d : pass_diags.diagnostics()) diags.Add(d);
      Builder builder(file, diags);
      if (expression) {
        builder.Expression(expr_tree, out);
      } else {
        builder.File(file_tree, out);
      }
      break;
    }
    out.parsed_cleanly = diags.ErrorsIn(file) == errors_before;
  } catch (const std::exception& e) {
    diags.Emit<diag::Msg::ParserStopped>(SourceRange{file, 1, 1, 1, 2}, e.what());
    out.parsed_cleanly = false;
  } catch (...) {
    // The ANTLR runtime also throws non-exception types (`const char*`).
    diags.Emit<diag::Msg::ParserStopped>(SourceRange{file, 1, 1, 1, 2}, "on an internal error");
    out.parsed_cleanly = false;
  }
  return out;
}

}  // namespace

ast::File Parse(const source::SourceManager& sources, source::FileId file, diag::DiagnosticEngine& diags,
                size_t max_file_bytes) {
  return ParseAs(sources, file, diags, max_file_bytes, false);
}

ast::File ParseExpression(const source::SourceManager& sources, source::FileId file, diag::DiagnosticEngine& diags) {
  return ParseAs(sources, file, diags, kMaxFileBytes, true);
}

std::vector<Token> Lex(const source::SourceManager& sources, source::FileId file) {
  std::vector<Token> out;
  const std::string& text = sources.Get(file).text();
  if (text.size() > kMaxFileBytes) return out;
  try {
    antlr4::ANTLRInputStream input(text);
    CdrLexer lexer(&input);
    lexer.removeErrorListeners();
    const antlr4::dfa::Vocabulary& vocabulary = lexer.getVocabulary();
    for (const auto& t : lexer.getAllTokens()) {
      Token k;
      k.range = TokenRange(file, t.get());
      switch (t->getType()) {
        case CdrLexer::INVALID_CHAR:
          continue;
        case CdrLexer::IDENT:
          k.kind = Token::Kind::Name;
          break;
        case CdrLexer::NUMBER:
        case CdrLexer::DURATION:
          k.kind = Token::Kind::Number;
          break;
        case CdrLexer::DATETIME:
          k.kind = Token::Kind::DateTime;
          break;
        case CdrLexer::STRING:
        case CdrLexer::SQSTRING:
        case CdrLexer::UNTERMINATED_STRING:
          k.kind = Token::Kind::Text;
          break;
        case CdrLexer::LINE_COMMENT:
        case CdrLexer::BLOCK_COMMENT:
          k.kind = Token::Kind::Comment;
          break;
        default:
          k.kind = KeywordOf(vocabulary, t->getType()).empty() ? Token::Kind::Punctuation : Token::Kind::Keyword;
      }
      out.push_back(k);
    }
  } catch (...) {
    // The lexer of valid UTF-8 does not throw; whatever it did is not worth a crash.
  }
  return out;
}

const std::vector<std::string>& Keywords() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> w;
    antlr4::ANTLRInputStream input("");
    CdrLexer lexer(&input);
    const antlr4::dfa::Vocabulary& v = lexer.getVocabulary();
    for (size_t i = 0; i <= v.getMaxTokenType(); ++i) {
      if (std::string k = KeywordOf(v, i); !k.empty()) w.push_back(k);
    }
    std::sort(w.begin(), w.end());
    return w;
  }();
  return words;
}

}  // namespace cdr::syntax
