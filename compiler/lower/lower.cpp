// compiler/lower/lower.cpp: lowers checked rules to IR. The checker's ExprInfo gives every
// expression's type and unit; lowering makes the conversions explicit so the back ends
// only ever compute on decimals in a known unit.
#include "compiler/lower/lower.h"

#include <algorithm>
#include <map>

#include "compiler/format/format.h"
#include "compiler/sema/check.h"
#include "stdlib/hash.h"
#include "stdlib/responses.h"
#include "stdlib/time.h"
#include "stdlib/units.h"

namespace cdr::ir {
namespace {

using ast::Expr;
using ast::ExprKind;
using sema::TypeKind;
using stdlib::Decimal;
using O = ast::Operator;

Kind KindOf(const sema::Type& t) {
  switch (t.kind) {
    case TypeKind::Boolean: return Kind::Bool;
    case TypeKind::Integer: return Kind::Int;
    case TypeKind::Decimal:
    case TypeKind::Quantity: return Kind::Dec;
    case TypeKind::Text:
    case TypeKind::Code:
    case TypeKind::Enum: return Kind::Text;
    case TypeKind::DateTime: return Kind::Time;
    default: return Kind::Bool;
  }
}

SignalType SignalTypeOf(const ast::SignalDecl& s) {
  using VK = ast::ValueType::Kind;
  switch (s.type.kind) {
    case VK::None: return SignalType::Event;
    case VK::Quantity: return SignalType::Quantity;
    case VK::Boolean: return SignalType::Boolean;
    case VK::Integer: return SignalType::Integer;
    case VK::Decimal: return SignalType::Decimal;
    case VK::Text: return SignalType::Text;
    case VK::Code: return SignalType::Code;
    case VK::Enum: return SignalType::Enum;
  }
  return SignalType::Event;
}

class RuleLowerer {
 public:
  RuleLowerer(const ast::Rule& rule, const sema::Model& model, std::map<std::string, int32_t>& signal_index,
              diag::DiagnosticEngine& diags)
      : rule_(rule), model_(model), signal_index_(signal_index), diags_(diags) {}

  bool Run(Rule& out) {
    out_ = &out;
    out.id = rule_.name;
    out.version = ast::Unquote(rule_.version);
    out.hash = "sha256:" + stdlib::Sha256Hex(format::FormatRule(rule_));
    out.blocks.emplace_back();
    using K = ast::RuleItem::Kind;
    for (const auto& it : rule_.items) {
      switch (it.kind) {
        case K::Title: out.title = ast::Unquote(it.strings[0]); break;
        case K::Status: out.status = it.names[0]; break;
        case K::Let: {
          let_exprs_[it.names[0]] = it.expr.get();
          current_let_ = it.names[0];
          aggs_in_let_ = 0;
          InstId v = Lower(*it.expr, 0);
          const sema::ExprInfo& info = Info(*it.expr);
          Let let{it.names[0], v, KindOf(info.type), info.type.kind == TypeKind::Quantity ? info.type.unit.text : ""};
          let_index_[let.name] = static_cast<int32_t>(out.lets.size());
          let_inst_[let.name] = v;
          out.lets.push_back(let);
          current_let_.clear();
          break;
        }
        case K::When: {
          current_let_ = "when";
          When w;
          w.cond = Lower(*it.expr, 0);
          w.severity = it.names[0];
          w.message = Message(ast::Unquote(it.message));
          out.whens.push_back(std::move(w));
          current_let_.clear();
          break;
        }
        case K::Suppress: {
          auto ms = Millis(*it.expr);
          out.suppress_ms = ms.value_or(0);
          break;
        }
        default: break;
      }
    }
    return ok_;
  }

 private:
  const sema::ExprInfo& Info(const Expr& e) {
    auto it = model_.exprs.find(&e);
    if (it == model_.exprs.end()) {
      static const sema::ExprInfo kNone{};
      Unsupported(e, "an expression the checker did not type");
      return kNone;
    }
    return it->second;
  }

  void Unsupported(const Expr& e, const std::string& what, const std::string& note = "") {
    ok_ = false;
    diag::Diagnostic* d = diags_.Emit<diag::Msg::Unsupported>(e.range, what);
    if (d && !note.empty()) d->notes.push_back(diag::Note{{}, note});
  }

  std::vector<MessagePart> Message(const std::string& text) {
    std::vector<MessagePart> parts;
    std::string lit;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{') {
        size_t close = text.find('}', i);
        if (close != std::string::npos) {
          std::string name = text.substr(i + 1, close - i - 1);
          int32_t places = -1;
          if (size_t colon = name.find(':'); colon != std::string::npos) {  // `.N`, checked by sema
            places = std::stoi(name.substr(colon + 2));
            name.resize(colon);
          }
          auto it = let_index_.find(name);
          if (it != let_index_.end()) {
            if (!lit.empty()) parts.push_back(MessagePart{lit, -1});
            lit.clear();
            parts.push_back(MessagePart{"", it->second, places});
            i = close;
            continue;
          }
        }
      }
      lit += text[i];
    }
    if (!lit.empty()) parts.push_back(MessagePart{lit, -1});
    return parts;
  }

  std::optional<int64_t> Millis(const Expr& e) {
    const sema::ExprInfo& info = Info(e);
    if (!info.constant || info.type.kind != TypeKind::Quantity) {
      Unsupported(e, "a duration that is not a constant");
      return std::nullopt;
    }
    auto ms = stdlib::Convert(*info.constant, info.type.unit, *stdlib::ParseUnit("ms"));
    if (!ms) return std::nullopt;
    return ms->raw() / Decimal::kOne;
  }

  InstId Emit(int block, Inst inst) {
    auto& insts = out_->blocks[static_cast<size_t>(block)].insts;
    insts.push_back(inst);
    return static_cast<InstId>(insts.size() - 1);
  }
  const Inst& At(int block, InstId id) { return out_->blocks[static_cast<size_t>(block)].insts[static_cast<size_t>(id)]; }

  InstId Const(int block, Kind k, int64_t v) {
    Inst i;
    i.op = Op::Const;
    i.kind = k;
    i.may_be_unknown = false;
    i.imm = v;
    return Emit(block, i);
  }
  InstId UnknownOf(int block, Kind k) {
    Inst i;
    i.op = Op::Unknown;
    i.kind = k;
    return Emit(block, i);
  }
  InstId Unary(int block, Op op, Kind k, InstId a) {
    Inst i;
    i.op = op;
    i.kind = k;
    i.a = a;
    i.may_be_unknown = At(block, a).may_be_unknown;
    return Emit(block, i);
  }
  InstId BinaryInst(int block, Op op, Kind k, InstId a, InstId b, bool unknown) {
    Inst i;
    i.op = op;
    i.kind = k;
    i.a = a;
    i.b = b;
    i.may_be_unknown = unknown;
    return Emit(block, i);
  }

  // Integer operand where a decimal is needed.
  InstId ToDec(int block, InstId v) {
    const Inst& in = At(block, v);
    if (in.kind != Kind::Int) return v;
    if (in.op == Op::Const) {
      auto d = Decimal::FromInteger(in.imm);
      return d ? Const(block, Kind::Dec, d->raw()) : UnknownOf(block, Kind::Dec);
    }
    if (in.op == Op::Unknown) return UnknownOf(block, Kind::Dec);
    return Unary(block, Op::IntToDec, Kind::Dec, v);
  }

  // Converts a decimal in unit `from` to unit `to` (constants at compile time).
  InstId ConvertUnit(int block, InstId v, const stdlib::Unit& from, const stdlib::Unit& to, const Expr& at) {
    if (from.SameScale(to)) return v;
    v = ToDec(block, v);
    const Inst& in = At(block, v);
    if (in.op == Op::Const) {
      auto c = stdlib::Convert(Decimal::FromRaw(in.imm), from, to);
      return c ? Const(block, Kind::Dec, c->raw()) : UnknownOf(block, Kind::Dec);
    }
    if (in.op == Op::Unknown) return v;
    auto l = stdlib::LinearConversion(from, to);
    constexpr stdlib::Int128 kMax = INT64_MAX;
    if (!l || l->num > kMax || l->den > kMax) {
      Unsupported(at, "a conversion from `" + from.text + "` to `" + to.text + "` with factors beyond 64 bits");
      return v;
    }
    out_->conversions.push_back(Conversion{static_cast<int64_t>(l->num), static_cast<int64_t>(l->den),
                                           l->from_offset.raw(), l->to_offset.raw()});
    Inst i;
    i.op = Op::Convert;
    i.kind = Kind::Dec;
    i.a = v;
    i.aux = static_cast<int32_t>(out_->conversions.size() - 1);
    i.may_be_unknown = in.may_be_unknown;
    return Emit(block, i);
  }

  // Lowers `e` and converts it to the kind and unit of `want` (joins, comparisons).
  InstId LowerAs(const Expr& e, int block, const sema::Type& want) {
    InstId v = Lower(e, block);
    const sema::Type& have = Info(e).type;
    if (want.kind == TypeKind::Quantity && have.kind == TypeKind::Quantity) {
      return ConvertUnit(block, v, have.unit, want.unit, e);
    }
    if ((want.kind == TypeKind::Decimal || want.kind == TypeKind::Quantity) && At(block, v).kind == Kind::Int) {
      return ToDec(block, v);
    }
    if (have.kind == TypeKind::Null) return UnknownOf(block, KindOf(want));
    return v;
  }

  // The operand type two sides are compared or combined in.
  static sema::Type Common(const sema::ExprInfo& a, const sema::ExprInfo& b) {
    if (a.type.kind == TypeKind::Null) return b.type;
    if (b.type.kind == TypeKind::Null) return a.type;
    if (a.type.kind == TypeKind::Quantity) {
      // Convert the constant side to the other side's unit, so thresholds convert once.
      if (b.type.kind == TypeKind::Quantity && a.constant && !b.constant) return b.type;
      return a.type;
    }
    if (b.type.kind == TypeKind::Quantity) return b.type;
    if (a.type.kind == TypeKind::Decimal || b.type.kind == TypeKind::Decimal) return sema::Type::Of(TypeKind::Decimal);
    return a.type;
  }

  int32_t Slot(const std::string& signal) {
    auto it = signal_index_.find(signal);
    int32_t global = it == signal_index_.end() ? -1 : it->second;
    for (size_t i = 0; i < out_->slots.size(); ++i) {
      if (out_->slots[i].signal == global) return static_cast<int32_t>(i);
    }
    out_->slots.push_back(SignalSlot{global});
    return static_cast<int32_t>(out_->slots.size() - 1);
  }

  void Window(int64_t ms) { out_->longest_window_ms = std::max(out_->longest_window_ms, ms); }

  // Adds `t` to `timers` unless it is there (a rule's timers, a block's change instants).
  static void AddTimer(std::vector<Timer>& timers, const Timer& t) {
    if (std::find(timers.begin(), timers.end(), t) == timers.end()) timers.push_back(t);
  }

  // The instants at which block `b`'s values can change, from what its instructions read:
  // a window of W changes when an event enters it (its time) and when it leaves (its time
  // + W); a lookback without a window leaves at the retention; an inner `for` of D
  // changes where its condition does, and D after.
  void Changes(int b) {
    std::vector<Timer> changes;
    auto add = [&](const Timer& t) { AddTimer(changes, t); };
    auto window = [&](int32_t slot, int64_t ms) {
      add(Timer{slot, 0, false});
      add(ms < 0 ? Timer{slot, 0, true} : Timer{slot, ms, false});
    };
    for (const Inst& in : out_->blocks[static_cast<size_t>(b)].insts) {
      switch (in.op) {
        case Op::Agg: window(in.aux, in.imm); break;
        case Op::Absence: window(in.aux, in.imm); break;
        case Op::Latest: window(in.aux, -1); break;
        case Op::Sequence:
          window(in.aux, -1);
          window(static_cast<int32_t>(in.imm2), -1);
          break;
        case Op::Sustained:
          for (const Timer& c : out_->blocks[static_cast<size_t>(in.aux)].changes) {
            add(c);
            add(Timer{c.slot, c.offset_ms + in.imm, c.after_retention});
          }
          break;
        default: break;
      }
    }
    out_->blocks[static_cast<size_t>(b)].changes = std::move(changes);
  }

  InstId Lower(const Expr& e, int block) {
    const sema::ExprInfo& info = Info(e);
    Kind kind = KindOf(info.type);
    switch (e.kind) {
      case ExprKind::Error:
        Unsupported(e, "an expression with errors");
        return UnknownOf(block, kind);
      case ExprKind::Bool: return Const(block, Kind::Bool, e.text == "true" ? 1 : 0);
      case ExprKind::Null: return UnknownOf(block, Kind::Bool);
      case ExprKind::Number:
        if (info.type.kind == TypeKind::Integer) return Const(block, Kind::Int, info.constant->raw() / Decimal::kOne);
        return Const(block, Kind::Dec, info.constant->raw());
      case ExprKind::Quantity:
      case ExprKind::Duration: return Const(block, Kind::Dec, info.constant->raw());
      case ExprKind::Text: return Text(block, ast::Unquote(e.text));
      case ExprKind::DateTime: {
        auto t = stdlib::ParseTime(e.text.substr(1));
        if (!t) {
          Unsupported(e, "a date-time cdr cannot read (use `@2024-01-01T00:00:00Z`)");
          return UnknownOf(block, Kind::Time);
        }
        return Const(block, Kind::Time, *t);
      }
      case ExprKind::Name: return Name(e, block);
      case ExprKind::Paren: return Lower(*e.kids[0], block);
      case ExprKind::Unary: {
        InstId a = Lower(*e.kids[0], block);
        if (e.op == O::Plus) return a;
        return Unary(block, Op::Neg, At(block, a).kind, a);
      }
      case ExprKind::Not: return Unary(block, Op::Not, Kind::Bool, Lower(*e.kids[0], block));
      case ExprKind::As: return LowerAs(*e.kids[0], block, info.type);
      case ExprKind::Step: {
        // predecessor / successor: one step of the type (1, or 10^-8 for decimals and quantities).
        InstId a = Lower(*e.kids[0], block);
        Kind k = At(block, a).kind;
        InstId one = Const(block, k, 1);  // raw 1: the integer 1, or the decimal 0.00000001
        return BinaryInst(block, e.op == O::Successor ? Op::Add : Op::Sub, k, a, one, true);
      }
      case ExprKind::Limit:
        if (info.type.kind == TypeKind::Integer) return Const(block, Kind::Int, info.constant->raw() / Decimal::kOne);
        return Const(block, Kind::Dec, info.constant->raw());
      case ExprKind::Is: {
        InstId a = Lower(*e.kids[0], block);
        Op op = e.op == O::IsNull ? Op::IsNull : e.op == O::IsTrue ? Op::IsTrue : Op::IsFalse;
        InstId r = Unary(block, op, Kind::Bool, a);
        out_->blocks[static_cast<size_t>(block)].insts[static_cast<size_t>(r)].may_be_unknown = false;
        if (e.negated) {
          r = Unary(block, Op::Not, Kind::Bool, r);
        }
        return r;
      }
      case ExprKind::Binary: return Binary(e, block, info);
      case ExprKind::Sustained: {
        auto ms = Millis(*e.kids[1]);
        Window(ms.value_or(0));
        int sub = static_cast<int>(out_->blocks.size());
        out_->blocks.emplace_back();
        InstId cond = Lower(*e.kids[0], sub);
        // The condition can only become true at an instant where it changes; it then holds
        // for the duration at that instant + D: a timer point there (at every level: an
        // enclosing `for` gets these instants among its own changes).
        Changes(sub);
        for (const Timer& c : out_->blocks[static_cast<size_t>(sub)].changes) {
          AddTimer(out_->timers, Timer{c.slot, c.offset_ms + ms.value_or(0), c.after_retention});
        }
        Inst i;
        i.op = Op::Sustained;
        i.kind = Kind::Bool;
        i.may_be_unknown = false;
        i.aux = sub;
        i.imm = ms.value_or(0);
        i.imm2 = cond;  // the condition's instruction in block `sub`
        return Emit(block, i);
      }
      case ExprKind::If: {
        InstId c = Lower(*e.kids[0], block);
        InstId a = LowerAs(*e.kids[1], block, info.type);
        InstId b = LowerAs(*e.kids[2], block, info.type);
        Inst i;
        i.op = Op::Select;
        i.kind = kind;
        i.a = c;
        i.b = a;
        i.c = b;
        i.may_be_unknown = At(block, a).may_be_unknown || At(block, b).may_be_unknown;
        return Emit(block, i);
      }
      case ExprKind::Case: return Case(e, block, info);
      case ExprKind::Bands: return Bands(e, block, info);
      case ExprKind::Absence: {
        auto ms = Millis(*e.kids[0]);
        Window(ms.value_or(0));
        Inst i;
        i.op = Op::Absence;
        i.kind = Kind::Bool;
        i.may_be_unknown = false;
        i.aux = Slot(e.text);
        i.imm = ms.value_or(0);
        AddTimer(out_->timers, Timer{i.aux, i.imm, false});
        return Emit(block, i);
      }
      case ExprKind::Sequence: {
        auto ms = Millis(*e.kids[0]);
        Window(ms.value_or(0));  // the pair must fit in the history kept
        Inst i;
        i.op = Op::Sequence;
        i.kind = Kind::Bool;
        i.may_be_unknown = false;
        i.aux = Slot(e.text);
        i.imm2 = Slot(e.name2);
        i.imm = ms.value_or(0);
        return Emit(block, i);
      }
      case ExprKind::Call: return Call(e, block, info);
    }
    return UnknownOf(block, kind);
  }

  InstId Text(int block, const std::string& s) {
    auto& texts = out_->texts;
    auto it = std::find(texts.begin(), texts.end(), s);
    int64_t idx = it - texts.begin();
    if (it == texts.end()) texts.push_back(s);
    return Const(block, Kind::Text, idx);
  }

  InstId Name(const Expr& e, int block) {
    if (let_exprs_.count(e.text)) {
      // In the rule's own block a `let` is computed once; inside `for` it is recomputed
      // at each instant, so its expression is lowered again there.
      if (block == 0) return let_inst_.at(e.text);
      return Lower(*let_exprs_.at(e.text), block);
    }
    // A bare signal inside `for`: its latest value at each instant.
    Inst i;
    i.op = Op::Latest;
    i.kind = KindOf(Info(e).type);
    i.aux = Slot(e.text);
    return Emit(block, i);
  }

  InstId Binary(const Expr& e, int block, const sema::ExprInfo& info) {
    const ast::Operator op = e.op;
    const sema::ExprInfo& ai = Info(*e.kids[0]);
    const sema::ExprInfo& bi = Info(*e.kids[1]);
    if (op == O::And || op == O::Or || op == O::Xor || op == O::Implies) {
      InstId a = Lower(*e.kids[0], block), b = Lower(*e.kids[1], block);
      Op o = op == O::And ? Op::And : op == O::Or ? Op::Or : op == O::Xor ? Op::Xor : Op::Implies;
      return BinaryInst(block, o, Kind::Bool, a, b, At(block, a).may_be_unknown || At(block, b).may_be_unknown);
    }
    if (op == O::Coalesce) {
      InstId a = LowerAs(*e.kids[0], block, info.type), b = LowerAs(*e.kids[1], block, info.type);
      return BinaryInst(block, Op::Coalesce, KindOf(info.type), a, b, At(block, b).may_be_unknown);
    }
    // An operand written `null` takes the kind of the result.
    auto operand = [&](const Expr& x) {
      return Info(x).type.kind == TypeKind::Null ? UnknownOf(block, KindOf(info.type)) : Lower(x, block);
    };
    if (op == O::Times || (op == O::Divide && !(ai.type.kind == TypeKind::Quantity && bi.type.kind == TypeKind::Quantity))) {
      // Products and quotients compose units: no conversion, only integer promotion.
      InstId a = operand(*e.kids[0]), b = operand(*e.kids[1]);
      Kind k = KindOf(info.type);
      if (k == Kind::Dec) {
        a = ToDec(block, a);
        b = ToDec(block, b);
      }
      return BinaryInst(block, op == O::Times ? Op::Mul : Op::Div, k, a, b, info.may_be_unknown);
    }
    if (op == O::Power) {
      InstId a = operand(*e.kids[0]), b = operand(*e.kids[1]);
      Kind k = KindOf(info.type);
      if (k == Kind::Dec) {
        a = ToDec(block, a);
        b = ToDec(block, b);
      }
      return BinaryInst(block, Op::Power, k, a, b, true);
    }
    if ((op == O::Div || op == O::Mod) && ai.type.kind == TypeKind::Quantity) {
      InstId a = Lower(*e.kids[0], block), b = LowerAs(*e.kids[1], block, ai.type);  // in a's unit
      return BinaryInst(block, op == O::Div ? Op::IntDiv : Op::Mod, Kind::Dec, ToDec(block, a), ToDec(block, b), true);
    }
    if (op == O::Div || op == O::Mod) {
      InstId a = operand(*e.kids[0]), b = operand(*e.kids[1]);
      Kind k = KindOf(info.type);
      if (k == Kind::Dec) {
        a = ToDec(block, a);
        b = ToDec(block, b);
      }
      return BinaryInst(block, op == O::Div ? Op::IntDiv : Op::Mod, k, a, b, true);
    }
    // +, -, / of commensurable quantities, comparisons: both sides in one unit.
    sema::Type common = Common(ai, bi);
    if (ai.type.kind == TypeKind::DateTime) {
      InstId a = Lower(*e.kids[0], block);
      if (bi.type.kind == TypeKind::Quantity) {
        // datetime +/- duration: the duration in milliseconds.
        InstId b = ConvertUnit(block, Lower(*e.kids[1], block), bi.type.unit, *stdlib::ParseUnit("ms"), e);
        Inst i;
        i.op = op == O::Plus ? Op::Add : Op::Sub;
        i.kind = Kind::Time;
        i.a = a;
        i.b = b;
        i.may_be_unknown = info.may_be_unknown;
        return Emit(block, i);
      }
      if (op == O::Minus) {
        InstId b = Lower(*e.kids[1], block);
        InstId diff = BinaryInst(block, Op::Sub, Kind::Dec, a, b, info.may_be_unknown);
        // a difference of times is in ms (as a decimal of whole ms); express it in hours.
        return ConvertUnit(block, diff, *stdlib::ParseUnit("ms"), info.type.unit, e);
      }
    }
    InstId a = LowerAs(*e.kids[0], block, common), b = LowerAs(*e.kids[1], block, common);
    Kind k = At(block, a).kind;
    bool unknown = At(block, a).may_be_unknown || At(block, b).may_be_unknown;
    auto compare = [&](Op o) { return BinaryInst(block, o, Kind::Bool, a, b, unknown); };
    switch (op) {
      case O::Plus: return BinaryInst(block, Op::Add, k, a, b, unknown);
      case O::Minus: return BinaryInst(block, Op::Sub, k, a, b, unknown);
      case O::Divide: return BinaryInst(block, Op::Div, Kind::Dec, a, b, true);
      case O::Less: return compare(Op::Lt);
      case O::LessEqual: return compare(Op::Le);
      case O::Greater: return compare(Op::Gt);
      case O::GreaterEqual: return compare(Op::Ge);
      case O::Equal: return compare(Op::Eq);
      case O::NotEqual: return compare(Op::Ne);
      case O::Equivalent: return BinaryInst(block, Op::Equiv, Kind::Bool, a, b, false);
      case O::NotEquivalent:
        return Unary(block, Op::Not, Kind::Bool, BinaryInst(block, Op::Equiv, Kind::Bool, a, b, false));
      // Lowered above, or not binary operators.
      case O::Times:
      case O::Div:
      case O::Mod:
      case O::Power:
      case O::And:
      case O::Or:
      case O::Xor:
      case O::Implies:
      case O::Coalesce:
      case O::None:
      case O::IsNull:
      case O::IsTrue:
      case O::IsFalse:
      case O::Predecessor:
      case O::Successor:
      case O::Minimum:
      case O::Maximum:
        break;
    }
    Unsupported(e, std::string("operator `") + Spelling(op) + "`");
    return UnknownOf(block, Kind::Bool);
  }

  InstId Case(const Expr& e, int block, const sema::ExprInfo& info) {
    // Lowered right to left into a chain of selects.
    size_t first = e.has_subject ? 1 : 0;
    InstId acc = LowerAs(*e.kids.back(), block, info.type);
    std::vector<std::pair<InstId, InstId>> arms;
    InstId subject = e.has_subject ? Lower(*e.kids[0], block) : -1;
    for (size_t i = first; i + 1 < e.kids.size(); i += 2) {
      InstId cond;
      if (e.has_subject) {
        sema::Type common = Common(Info(*e.kids[0]), Info(*e.kids[i]));
        InstId s = subject;
        if (common.kind == TypeKind::Quantity) {
          s = ConvertUnit(block, subject, Info(*e.kids[0]).type.unit, common.unit, e);
        } else if (common.kind == TypeKind::Decimal) {
          s = ToDec(block, subject);
        }
        InstId w = LowerAs(*e.kids[i], block, common);
        cond = BinaryInst(block, Op::Eq, Kind::Bool, s, w, true);
      } else {
        cond = Lower(*e.kids[i], block);
      }
      arms.emplace_back(cond, LowerAs(*e.kids[i + 1], block, info.type));
    }
    for (auto it = arms.rbegin(); it != arms.rend(); ++it) {
      Inst s;
      s.op = Op::Select;
      s.kind = KindOf(info.type);
      s.a = it->first;
      s.b = it->second;
      s.c = acc;
      s.may_be_unknown = At(block, it->second).may_be_unknown || At(block, acc).may_be_unknown;
      acc = Emit(block, s);
    }
    return acc;
  }

  // A band bound in the subject's representation.
  std::optional<int64_t> Bound(const ast::PlainValue& v, const sema::Type& subject, int block,
                               const sema::SignalInfo* signal) {
    using PK = ast::PlainValue::Kind;
    if (v.kind == PK::Bool) return v.text == "true" ? 1 : 0;
    if (v.kind == PK::Text) return At(block, Text(block, v.text)).imm;
    auto d = Decimal::Parse(v.text);
    if (!d) return std::nullopt;
    if (!v.unit.empty() && subject.kind == TypeKind::Quantity) {
      auto u = stdlib::ParseUnit(v.unit);
      if (!u) return std::nullopt;
      d = sema::ConstantInUnit(*d, *u, subject.unit, signal);  // as the checker converted it
      if (!d) return std::nullopt;
    }
    return d->raw();
  }

  InstId Bands(const Expr& e, int block, const sema::ExprInfo& info) {
    const sema::Type& st = Info(*e.kids[0]).type;
    const sema::SignalInfo* signal = Info(*e.kids[0]).origin;
    InstId subject = Lower(*e.kids[0], block);
    BandTable table;
    bool integer = st.kind == TypeKind::Integer;
    int64_t step = 1;
    table.let = current_let_;
    for (const auto& row : e.rows) {
      BandRow br;
      br.text = format::FormatBandCondition(row);
      br.value = LowerAs(*row.value, block, info.type);
      using RK = ast::BandRow::Kind;
      auto scale = [&](int64_t raw, bool up) -> int64_t {
        // Integers compare as integers: round bounds inward to whole numbers.
        if (!integer) return raw;
        int64_t q = raw / Decimal::kOne, r = raw % Decimal::kOne;
        if (r == 0) return q;
        return up ? (raw > 0 ? q + 1 : q) : (raw > 0 ? q : q - 1);
      };
      if (row.kind == RK::Else) {
        br.is_else = true;
      } else if (row.kind == RK::Range || row.kind == RK::Exact) {
        auto lo = Bound(row.low, st, block, signal);
        auto hi = row.kind == RK::Range ? Bound(row.high, st, block, signal) : lo;
        if (!lo || !hi) {
          Unsupported(e, "a band bound");
          continue;
        }
        bool numeric = row.low.kind == ast::PlainValue::Kind::Number;
        br.low = numeric ? scale(*lo, true) : *lo;
        br.high = numeric ? scale(*hi, false) : *hi;
      } else {
        for (const auto& b : row.bounds) {
          auto v = Bound(b.value, st, block, signal);
          if (!v) {
            Unsupported(e, "a band bound");
            continue;
          }
          if (b.op == O::Less) br.high = std::min(br.high, integer ? scale(*v, true) - 1 : *v - step);
          if (b.op == O::LessEqual) br.high = std::min(br.high, scale(*v, false));
          if (b.op == O::Greater) br.low = std::max(br.low, integer ? scale(*v, false) + 1 : *v + step);
          if (b.op == O::GreaterEqual) br.low = std::max(br.low, scale(*v, true));
        }
      }
      table.rows.push_back(br);
    }
    out_->bands.push_back(std::move(table));
    Inst i;
    i.op = Op::Bands;
    i.kind = KindOf(info.type);
    i.a = subject;
    i.aux = static_cast<int32_t>(out_->bands.size() - 1);
    i.may_be_unknown = true;
    return Emit(block, i);
  }

  InstId Call(const Expr& e, int block, const sema::ExprInfo& info) {
    using stdlib::Function;
    const Function f = *info.function;  // the checker resolved every call it accepted
    switch (f) {
#define AGGREGATE(id, name, summary) case Function::id:
#include "stdlib/functions.def"
      return AggregateCall(e, block, info, *stdlib::AsAggregate(f));
      case Function::Coalesce: {
        InstId acc = LowerAs(*e.args.back().value, block, info.type);
        for (size_t k = e.args.size() - 1; k-- > 0;) {
          InstId a = LowerAs(*e.args[k].value, block, info.type);
          acc = BinaryInst(block, Op::Coalesce, KindOf(info.type), a, acc, At(block, acc).may_be_unknown);
        }
        return acc;
      }
      case Function::ValueIn: {
        const sema::ExprInfo& qi = Info(*e.args[0].value);
        InstId q = Lower(*e.args[0].value, block);
        auto to = stdlib::ParseUnit(ast::Unquote(e.args[1].value->text));
        return to ? ConvertUnit(block, q, qi.type.unit, *to, e) : q;
      }
      case Function::IsNull: return Unary(block, Op::IsNull, Kind::Bool, Lower(*e.args[0].value, block));
      case Function::IsTrue: return Unary(block, Op::IsTrue, Kind::Bool, Lower(*e.args[0].value, block));
      case Function::IsFalse: return Unary(block, Op::IsFalse, Kind::Bool, Lower(*e.args[0].value, block));
      case Function::Ln: return Unary(block, Op::Ln, Kind::Dec, ToDec(block, Lower(*e.args[0].value, block)));
      case Function::Exp: return Unary(block, Op::Exp, Kind::Dec, ToDec(block, Lower(*e.args[0].value, block)));
      case Function::Log:
      case Function::Power: {
        Kind k = KindOf(info.type);
        InstId a = Lower(*e.args[0].value, block), b = Lower(*e.args[1].value, block);
        if (k == Kind::Dec) {
          a = ToDec(block, a);
          b = ToDec(block, b);
        }
        return BinaryInst(block, f == Function::Log ? Op::Log : Op::Power, k, a, b, true);
      }
      case Function::Round: {
        InstId a = Lower(*e.args[0].value, block);
        InstId places = e.args.size() > 1 ? Lower(*e.args[1].value, block) : Const(block, Kind::Int, 0);
        return BinaryInst(block, Op::Round, Kind::Dec, ToDec(block, a), places, info.may_be_unknown);
      }
      case Function::Abs: {
        InstId a = Lower(*e.args[0].value, block);
        return Unary(block, Op::Abs, At(block, a).kind, a);
      }
      case Function::Floor: return Unary(block, Op::Floor, KindOf(info.type), Lower(*e.args[0].value, block));
      case Function::Ceiling: return Unary(block, Op::Ceiling, KindOf(info.type), Lower(*e.args[0].value, block));
      case Function::Truncate: return Unary(block, Op::Truncate, KindOf(info.type), Lower(*e.args[0].value, block));
    }
    return UnknownOf(block, KindOf(info.type));  // not reached: the switch names every function
  }

  InstId AggregateCall(const Expr& e, int block, const sema::ExprInfo& info, AggKind agg) {
    if (block != 0 && agg == AggKind::TimeSince) {
      // Its value grows with the evaluation time itself, not only at events: `for` could
      // not know when it crosses a threshold.
      Unsupported(e, "`time_since` inside `for`",
                  "its value grows between events, and `for` checks its condition at the events that change it; "
                  "compare `time_since` outside `for`, or write `no S within D`");
    }
    Inst i;
    i.op = Op::Agg;
    i.kind = KindOf(info.type);
    i.aux = Slot(e.args[0].value->text);
    i.imm = -1;
    if (e.args[0].window) {
      i.imm = Millis(*e.args[0].window).value_or(0);
      Window(i.imm);
    }
    i.imm2 = static_cast<int64_t>(agg);
    if (agg == AggKind::Arrived) {  // an event at the point's own instant: exists over (now - 1ms, now]
      i.imm = 1;
      i.imm2 = static_cast<int64_t>(AggKind::Exists);
    }
    i.may_be_unknown = info.may_be_unknown;
    InstId id = Emit(block, i);
    if (block == 0) {
      ++aggs_in_let_;
      std::string name = current_let_.empty() ? e.args[0].value->text : current_let_;
      if (aggs_in_let_ > 1 || current_let_ == "when") name += "/" + e.args[0].value->text;
      out_->evidence.push_back(EvidenceSite{id, name});
    }
    return id;
  }

  const ast::Rule& rule_;
  const sema::Model& model_;
  std::map<std::string, int32_t>& signal_index_;
  diag::DiagnosticEngine& diags_;
  Rule* out_ = nullptr;
  bool ok_ = true;
  std::map<std::string, const Expr*> let_exprs_;
  std::map<std::string, int32_t> let_index_;
  std::map<std::string, InstId> let_inst_;
  std::string current_let_;
  int aggs_in_let_ = 0;

};

}  // namespace

Module Lower(const std::vector<const ast::File*>& files, const sema::Model& model, diag::DiagnosticEngine& diags) {
  Module m;
  std::map<std::string, int32_t> signal_index;
  // Value sets by schema, for the signals whose value is a code of one.
  std::map<std::pair<std::string, std::string>, const ast::ValuesetDecl*> valuesets;
  for (const ast::File* f : files) {
    for (const auto& d : f->decls) {
      if (!d.schema) continue;
      for (const auto& item : d.schema->items) {
        if (item.valueset) valuesets[{d.schema->name, item.valueset->name}] = item.valueset.get();
      }
    }
  }
  for (const auto& [schema, signals] : model.schemas) {
    for (const auto& [name, info] : signals) {
      if (signal_index.count(name)) continue;  // the first schema (by name) wins; lint warns
      Signal s;
      s.name = name;
      s.schema = schema;
      s.type = SignalTypeOf(*info.decl);
      s.kind = info.decl->kind;
      if (info.type.kind == TypeKind::Quantity) s.unit = info.type.unit.text;
      for (const auto& g : info.decl->codes) {
        for (const auto& c : g.codes) s.codes.push_back(Code{g.system, ast::Unquote(c)});
      }
      s.members = info.type.members;
      if (!info.decl->type.valueset.empty()) {
        if (auto vs = valuesets.find({schema, info.decl->type.valueset}); vs != valuesets.end()) {
          for (const auto& g : vs->second->codes) {
            for (const auto& c : g.codes) s.valueset_codes.push_back(Code{g.system, ast::Unquote(c)});
          }
        }
      }
      if (info.plausible_low && info.plausible_high) {
        s.has_plausible = true;
        bool integer = info.type.kind == TypeKind::Integer;
        s.plausible_low = integer ? info.plausible_low->raw() / Decimal::kOne : info.plausible_low->raw();
        s.plausible_high = integer ? info.plausible_high->raw() / Decimal::kOne : info.plausible_high->raw();
        s.keep_implausible = info.decl->keep_implausible;
      }
      for (const auto& [unit, factor] : info.conversions) {
        // value in `unit` * factor = value in the signal's unit
        s.conversions.push_back(UnitConversion{unit.text, Conversion{factor.raw(), Decimal::kOne, 0, 0}});
      }
      signal_index[name] = static_cast<int32_t>(m.signals.size());
      m.signals.push_back(std::move(s));
    }
  }
  for (const auto& [name, info] : model.derived) {
    Signal s;
    s.name = name;
    s.schema = info.schema;
    switch (info.type.kind) {
      case TypeKind::Boolean: s.type = SignalType::Boolean; break;
      case TypeKind::Integer: s.type = SignalType::Integer; break;
      case TypeKind::Quantity:
        s.type = SignalType::Quantity;
        s.unit = info.type.unit.text;
        break;
      default: s.type = SignalType::Decimal; break;
    }
    signal_index[name] = static_cast<int32_t>(m.signals.size());
    m.signals.push_back(std::move(s));
  }
  // Every rule's alert responses (one signal of each kind, for all versions of the rule):
  // a response to any loaded rule is an event of a known signal, whether read or not.
  for (const ast::Rule* rule : model.rule_order) {
    for (const stdlib::ResponseKind& kind : stdlib::kResponses) {
      Signal s;
      s.name = rule->name + "." + std::string(kind.member);
      if (signal_index.count(s.name)) continue;
      s.schema = "responses to rule " + rule->name;
      s.type = SignalType::Text;
      s.response = true;
      signal_index[s.name] = static_cast<int32_t>(m.signals.size());
      m.signals.push_back(std::move(s));
    }
  }
  if (model.retention_seconds) m.retention_ms = model.retention_seconds->raw() / Decimal::kOne * 1000;
  std::map<std::string, size_t> rule_at;
  for (const ast::Rule* rule : model.rule_order) {
    Rule r;
    if (!RuleLowerer(*rule, model, signal_index, diags).Run(r)) continue;
    rule_at[r.id] = m.rules.size();
    m.rules.push_back(std::move(r));
  }
  // Derived signals name the rule and let that compute them; a rule reading one has its
  // producers' hashes in its own, since their change changes what it computes.
  for (Signal& s : m.signals) {
    auto info = model.derived.find(s.name);
    if (info == model.derived.end()) continue;
    auto at = rule_at.find(info->second.rule);
    if (at == rule_at.end()) continue;
    s.rule = static_cast<int32_t>(at->second);
    Rule& producer = m.rules[at->second];
    for (size_t i = 0; i < producer.lets.size(); ++i) {
      if (producer.lets[i].name != info->second.let) continue;
      s.let = static_cast<int32_t>(i);
      producer.lets[i].published = true;
    }
  }
  for (Rule& r : m.rules) {
    std::string producers;
    for (const SignalSlot& slot : r.slots) {
      const Signal& s = m.signals[static_cast<size_t>(slot.signal)];
      if (s.derived()) producers += "|" + s.name + "=" + m.rules[static_cast<size_t>(s.rule)].hash;
    }
    if (!producers.empty()) r.hash = "sha256:" + stdlib::Sha256Hex(r.hash + producers);
  }
  return m;
}

}  // namespace cdr::ir
