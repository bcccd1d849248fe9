// tests/unit/ops_test.cpp: every IR operation on edge values (unknowns, the ends of the
// integer and decimal ranges, overflow, zero divisors, unit offsets, texts that differ in
// case), computed four ways: the interpreter's common loop, its general path (OneOn,
// taken when evidence is collected) and the JIT at optimisation levels 0 and 2. All four
// must agree on every value; the values that define the language's edge behaviour are
// also checked against their definition, written out by hand below.
//
// Each operation's cases are one rule. Operands are read from signals (one event each,
// or none for unknown) so that no back end sees them as constants, and again as
// constants (which the interpreter puts in place before the loop and LLVM may fold).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "compiler/jit/jit.h"
#include "runtime/interpreter.h"
#include "runtime/window.h"
#include "stdlib/decimal.h"

namespace {

using cdr::ir::InstId;
using cdr::ir::Kind;
using cdr::ir::Op;
using cdr::runtime::Value;
using cdr::stdlib::Decimal;
using cdr::stdlib::kMaxInteger;
using cdr::stdlib::kMinInteger;

constexpr int64_t kOne = Decimal::kOne;
constexpr int64_t kHour = 3600000;
constexpr int64_t kNow = 100 * kHour;  // evaluation time; events are before it

// An operand: its kind and value (raw: bool 0/1, integer, decimal in 10^-8 steps, time
// in ms); nullopt is unknown. Texts are given as text.
struct Operand {
  Kind kind;
  std::optional<int64_t> v;
  std::string text;
};
Operand I(int64_t v) { return {Kind::Int, v, {}}; }
Operand D(int64_t raw) { return {Kind::Dec, raw, {}}; }
Operand B(bool b) { return {Kind::Bool, b ? 1 : 0, {}}; }
Operand T(std::string s) { return {Kind::Text, 0, std::move(s)}; }
Operand Ms(int64_t ms) { return {Kind::Time, ms, {}}; }
Operand U(Kind k) { return {k, std::nullopt, {}}; }

std::string Show(const Operand& o) {
  if (!o.v) return "unknown";
  switch (o.kind) {
    case Kind::Bool: return *o.v ? "true" : "false";
    case Kind::Int: return std::to_string(*o.v);
    case Kind::Dec: return Decimal::FromRaw(*o.v).ToString();
    case Kind::Text: return "'" + o.text + "'";
    case Kind::Time: return std::to_string(*o.v) + "ms";
  }
  return "?";
}

std::string ShowValue(Kind k, const Value& v) {
  if (!v.known) return "unknown";
  if (k == Kind::Dec) return Decimal::FromRaw(v.v).ToString();
  return std::to_string(v.v);
}

// Whether an engine's value is the one a definition gives (nullopt: unknown).
bool Same(const Value& got, const std::optional<int64_t>& want) {
  return got.known == want.has_value() && (!want || got.v == *want);
}

// Edge values of each kind.
std::vector<Operand> Edges(Kind k) {
  switch (k) {
    case Kind::Int:
      return {U(k), I(0), I(1), I(-1), I(7), I(-7), I(2), I(31), I(65536), I(kMaxInteger), I(kMinInteger)};
    case Kind::Dec:
      return {U(k),        D(0),        D(kOne),      D(-kOne),      D(kOne / 2),  D(-kOne / 2),
              D(5 * kOne / 2), D(-5 * kOne / 2), D(1),    D(-1),         D(3 * kOne),  D(INT64_MAX),
              D(-INT64_MAX), D(INT64_MAX / 3), D(123456789012345)};
    case Kind::Bool: return {U(k), B(false), B(true)};
    case Kind::Text: return {U(k), T("a"), T("A"), T("b"), T("")};
    case Kind::Time: return {U(k), Ms(0), Ms(kHour), Ms(-kHour)};
  }
  return {};
}

cdr::ir::SignalType SignalTypeOf(Kind k) {
  switch (k) {
    case Kind::Bool: return cdr::ir::SignalType::Boolean;
    case Kind::Int: return cdr::ir::SignalType::Integer;
    case Kind::Dec: return cdr::ir::SignalType::Decimal;
    case Kind::Text: return cdr::ir::SignalType::Text;
    case Kind::Time: break;
  }
  return cdr::ir::SignalType::Decimal;
}

// One operation's cases as one rule, run on every engine.
class OpRule {
 public:
  OpRule() {
    rule_.id = "ops";
    rule_.blocks.emplace_back();
  }

  // Adds `op` of result kind `kind` over `args`; returns the case's index.
  size_t Add(Op op, Kind kind, const std::vector<Operand>& args, bool constants, int64_t imm = 0, int64_t imm2 = 0,
             int32_t aux = -1) {
    InstId ids[3] = {-1, -1, -1};
    for (size_t k = 0; k < args.size(); ++k) ids[k] = constants ? Constant(args[k]) : FromSignal(args[k]);
    cdr::ir::Inst in;
    in.op = op;
    in.kind = kind;
    in.a = ids[0];
    in.b = ids[1];
    in.c = ids[2];
    in.imm = imm;
    in.imm2 = imm2;
    in.aux = aux;
    return Let(Emit(in), kind, Describe(op, args, constants));
  }

  // An instruction of block 0 made by the caller (aggregates, bands), as a case.
  InstId Emit(const cdr::ir::Inst& in) {
    auto& insts = rule_.blocks[0].insts;
    insts.push_back(in);
    return static_cast<InstId>(insts.size() - 1);
  }
  size_t Let(InstId id, Kind kind, std::string what) {
    rule_.lets.push_back(cdr::ir::Let{"v" + std::to_string(rule_.lets.size()), id, kind, "", false});
    what_.push_back(std::move(what));
    return what_.size() - 1;
  }

  // A signal of kind `k` with the given events (time, value; nullopt: an event without one).
  int32_t Slot(Kind k, const std::vector<std::pair<int64_t, std::optional<int64_t>>>& events) {
    cdr::ir::Signal s;
    s.name = "s" + std::to_string(module_.signals.size());
    s.type = events.empty() || events[0].second ? SignalTypeOf(k) : cdr::ir::SignalType::Event;
    module_.signals.push_back(s);
    rule_.slots.push_back(cdr::ir::SignalSlot{static_cast<int32_t>(module_.signals.size() - 1)});
    std::vector<cdr::runtime::StoredEvent> list;
    for (const auto& [t, v] : events) list.push_back({t, v.value_or(0), v.has_value(), false, 0});
    lists_.push_back(list);
    return static_cast<int32_t>(rule_.slots.size() - 1);
  }
  int32_t AddConversion(cdr::ir::Conversion c) {
    rule_.conversions.push_back(c);
    return static_cast<int32_t>(rule_.conversions.size() - 1);
  }
  int32_t AddBands(cdr::ir::BandTable t) {
    rule_.bands.push_back(std::move(t));
    return static_cast<int32_t>(rule_.bands.size() - 1);
  }
  InstId Constant(const Operand& o) {
    cdr::ir::Inst in;
    in.kind = o.kind;
    if (!o.v) {
      in.op = Op::Unknown;
      return Emit(in);
    }
    in.op = Op::Const;
    in.may_be_unknown = false;
    in.imm = o.kind == Kind::Text ? TextIndex(o.text) : *o.v;
    return Emit(in);
  }

  // Runs every engine; fails on any disagreement. The values, by case, for checks by hand.
  std::vector<Value> Run() {
    EXPECT_TRUE(cdr::ir::Verify(Module()).empty());
    cdr::ir::Module m = Module();
    const cdr::ir::Rule& rule = m.rules[0];
    cdr::runtime::Interner interner;
    std::vector<int32_t> store_of;
    for (size_t s = 0; s < m.signals.size(); ++s) store_of.push_back(static_cast<int32_t>(s));
    cdr::runtime::LoadedRule loaded = cdr::runtime::Load(m, rule, interner, store_of);
    cdr::runtime::PatientEvents events;
    for (size_t s = 0; s < lists_.size(); ++s) {
      auto& list = events.by_signal.emplace_back();
      for (cdr::runtime::StoredEvent e : lists_[s]) {
        if (m.signals[s].type == cdr::ir::SignalType::Text && e.has_value) {
          e.value = interner.Intern(slot_texts_.at({s, e.value}));
        }
        list.push_back(e);
      }
    }
    auto eval = [&](const cdr::runtime::LoadedRule& r, bool general) {
      std::vector<Value> regs;
      std::vector<std::vector<cdr::runtime::EventRef>> evidence(rule.evidence.size());
      cdr::runtime::Evaluate(r, events, kNow, interner, regs, general ? &evidence : nullptr, nullptr, 1000 * kHour,
                             cdr::runtime::Wanted::AllLets);
      std::vector<Value> out;
      for (const auto& let : rule.lets) out.push_back(regs.at(static_cast<size_t>(let.inst)));
      return out;
    };
    std::vector<Value> common = eval(loaded, false);
    std::vector<std::pair<std::string, std::vector<Value>>> others;
    others.emplace_back("interpreter, general path", eval(loaded, true));
    for (int opt : {0, 2}) {
      cdr::runtime::LoadedRule native = loaded;
      auto error = cdr::jit::Compile(rule, opt, native.native);
      EXPECT_EQ(error, std::nullopt) << *error;
      if (error) continue;
      others.emplace_back("JIT -O" + std::to_string(opt), eval(native, false));
    }
    for (const auto& [name, values] : others) {
      for (size_t i = 0; i < common.size(); ++i) {
        EXPECT_TRUE(Same(values[i], common[i].known ? std::optional<int64_t>(common[i].v) : std::nullopt))
            << what_[i] << ": interpreter " << ShowValue(rule.lets[i].kind, common[i]) << ", " << name << " "
            << ShowValue(rule.lets[i].kind, values[i]);
      }
    }
    return common;
  }

  const std::string& What(size_t i) const { return what_[i]; }

 private:
  cdr::ir::Module Module() const {
    cdr::ir::Module m = module_;
    m.rules.push_back(rule_);
    return m;
  }
  int64_t TextIndex(const std::string& s) {
    for (size_t i = 0; i < rule_.texts.size(); ++i) {
      if (rule_.texts[i] == s) return static_cast<int64_t>(i);
    }
    rule_.texts.push_back(s);
    return static_cast<int64_t>(rule_.texts.size() - 1);
  }
  // The operand as `last` of a signal holding it (no event: unknown); one signal per value.
  InstId FromSignal(const Operand& o) {
    if (o.kind == Kind::Time) return Constant(o);  // no signal holds times
    std::string value = !o.v ? "?" : o.kind == Kind::Text ? "t" + o.text : std::to_string(*o.v);
    auto key = std::make_pair(static_cast<int>(o.kind), value);
    auto it = by_value_.find(key);
    if (it != by_value_.end()) return it->second;
    int32_t slot;
    if (!o.v) {
      slot = Slot(o.kind, {});
    } else if (o.kind == Kind::Text) {
      slot = Slot(o.kind, {{0, int64_t{0}}});
      slot_texts_[{lists_.size() - 1, 0}] = o.text;
    } else {
      slot = Slot(o.kind, {{0, *o.v}});
    }
    cdr::ir::Inst in;
    in.op = Op::Agg;
    in.kind = o.kind;
    in.aux = slot;
    in.imm = -1;
    in.imm2 = static_cast<int64_t>(cdr::ir::AggKind::Last);
    InstId id = Emit(in);
    by_value_[key] = id;
    return id;
  }
  static std::string Describe(Op op, const std::vector<Operand>& args, bool constants) {
    std::string s = std::string(cdr::ir::OpName(op)) + "(";
    for (size_t k = 0; k < args.size(); ++k) s += (k ? ", " : "") + Show(args[k]);
    return s + (constants ? ") of constants" : ")");
  }

  cdr::ir::Module module_;
  cdr::ir::Rule rule_;
  std::vector<std::vector<cdr::runtime::StoredEvent>> lists_;
  std::map<std::pair<size_t, int64_t>, std::string> slot_texts_;
  std::map<std::pair<int, std::string>, InstId> by_value_;
  std::vector<std::string> what_;
};

// The kinds an operation is defined on, as the lowering emits it: result kind and operand kinds.
struct Signature {
  Kind result;
  std::vector<Kind> args;
};

std::vector<Signature> SignaturesOf(Op op) {
  const Kind kB = Kind::Bool, kI = Kind::Int, kD = Kind::Dec, kT = Kind::Text, kTime = Kind::Time;
  switch (op) {
    case Op::Neg:
    case Op::Abs: return {{kI, {kI}}, {kD, {kD}}};
    case Op::Add: return {{kI, {kI, kI}}, {kD, {kD, kD}}, {kTime, {kTime, kD}}};
    case Op::Sub: return {{kI, {kI, kI}}, {kD, {kD, kD}}, {kTime, {kTime, kD}}, {kD, {kTime, kTime}}};
    case Op::Mul:
    case Op::IntDiv:
    case Op::Mod:
    case Op::Power: return {{kI, {kI, kI}}, {kD, {kD, kD}}};
    case Op::Div:
    case Op::Log: return {{kD, {kD, kD}}};
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge:
    case Op::Eq:
    case Op::Ne:
    case Op::Equiv: return {{kB, {kI, kI}}, {kB, {kD, kD}}, {kB, {kB, kB}}, {kB, {kT, kT}}, {kB, {kTime, kTime}}};
    case Op::And:
    case Op::Or:
    case Op::Xor:
    case Op::Implies: return {{kB, {kB, kB}}};
    case Op::Not: return {{kB, {kB}}};
    case Op::IsNull: return {{kB, {kB}}, {kB, {kD}}, {kB, {kT}}};
    case Op::IsTrue:
    case Op::IsFalse: return {{kB, {kB}}};
    case Op::Coalesce: return {{kI, {kI, kI}}, {kD, {kD, kD}}, {kB, {kB, kB}}, {kT, {kT, kT}}};
    case Op::Select: return {{kD, {kB, kD, kD}}, {kT, {kB, kT, kT}}};
    case Op::IntToDec: return {{kD, {kI}}};
    case Op::Floor:
    case Op::Ceiling:
    case Op::Truncate: return {{kI, {kD}}, {kD, {kD}}, {kI, {kI}}};
    case Op::Ln:
    case Op::Exp: return {{kD, {kD}}};
    case Op::Round: return {{kD, {kD, kI}}};
    // Made with immediates and tables of their own: below.
    case Op::Const:
    case Op::Unknown:
    case Op::Convert:
    case Op::Bands:
    case Op::Agg:
    case Op::Latest:
    case Op::Absence:
    case Op::Sequence:
    case Op::Sustained: return {};
  }
  return {};
}

// Every combination of edge values, for operations of one to three operands.
void ForEachCombination(const Signature& sig, const std::function<void(const std::vector<Operand>&)>& f) {
  std::vector<std::vector<Operand>> edges;
  for (Kind k : sig.args) edges.push_back(Edges(k));
  if (sig.args.size() == 3) {  // select: every condition; branches that differ
    edges[0] = Edges(Kind::Bool);
    edges[1].resize(4);
    edges[2].resize(4);
  }
  if (sig.args.size() == 2 && sig.result == Kind::Dec && sig.args[1] == Kind::Int) {  // round's places
    edges[1] = {U(Kind::Int), I(0), I(1), I(2), I(7), I(8), I(9), I(-1)};
  }
  std::vector<Operand> args(sig.args.size());
  std::function<void(size_t)> rec = [&](size_t k) {
    if (k == args.size()) return f(args);
    for (const Operand& o : edges[k]) {
      args[k] = o;
      rec(k + 1);
    }
  };
  rec(0);
}

std::set<Op> AllOps() {
  return {
#define IR_OP(id, name, n) Op::id,
#include "compiler/ir/ops.def"
#undef IR_OP
  };
}

// Every operation over every combination of edge values of every signature it has.
TEST(Ops, EveryEngineAgreesOnEdgeValues) {
  std::set<Op> seen;
  for (Op op : AllOps()) {
    auto sigs = SignaturesOf(op);
    if (sigs.empty()) continue;
    // A rule of at most 256 cases: LLVM's time grows faster than the function's size.
    auto r = std::make_unique<OpRule>();
    size_t cases = 0, in_rule = 0;
    for (bool constants : {false, true}) {
      for (const Signature& sig : sigs) {
        ForEachCombination(sig, [&](const std::vector<Operand>& args) {
          r->Add(op, sig.result, args, constants);
          ++cases;
          if (++in_rule == 256) {
            r->Run();
            r = std::make_unique<OpRule>();
            in_rule = 0;
          }
        });
      }
    }
    if (in_rule) r->Run();
    EXPECT_GT(cases, 0u);
    seen.insert(op);
  }
  // The operations with immediates or tables have tests of their own below; the rest
  // must have a signature here (a new operation fails until it has one).
  for (Op op : {Op::Const, Op::Unknown, Op::Convert, Op::Bands, Op::Agg, Op::Latest, Op::Absence, Op::Sequence,
                Op::Sustained}) {
    seen.insert(op);
  }
  EXPECT_EQ(seen, AllOps());
}

// The edge behaviour of the language, value by value, from its definition: CQL 1.5's
// null propagation and three-valued logic (Logical Operators: and, or, xor, implies; `~`
// is never null), docs/language.md's ranges (integers are 32-bit, decimals 8 places;
// a result outside its range is unknown), division by zero is unknown (CQL), `round`
// rounds half away from zero, `mod` has the sign of the dividend (CQL: truncated).
struct Expected {
  Op op;
  Kind kind;
  std::vector<Operand> args;
  std::optional<int64_t> want;  // nullopt: unknown
};

TEST(Ops, EdgeValuesAreAsDefined) {
  const std::optional<int64_t> unknown;
  const Kind kB = Kind::Bool, kI = Kind::Int, kD = Kind::Dec;
  const std::vector<Expected> table = {
      // Kleene logic (CQL 1.5, Logical Operators tables).
      {Op::And, kB, {B(false), U(kB)}, 0},
      {Op::And, kB, {U(kB), B(false)}, 0},
      {Op::And, kB, {B(true), U(kB)}, unknown},
      {Op::Or, kB, {B(true), U(kB)}, 1},
      {Op::Or, kB, {U(kB), B(true)}, 1},
      {Op::Or, kB, {B(false), U(kB)}, unknown},
      {Op::Xor, kB, {B(true), U(kB)}, unknown},
      {Op::Xor, kB, {B(true), B(false)}, 1},
      {Op::Implies, kB, {B(false), U(kB)}, 1},
      {Op::Implies, kB, {U(kB), B(true)}, 1},
      {Op::Implies, kB, {B(true), U(kB)}, unknown},
      {Op::Implies, kB, {U(kB), B(false)}, unknown},
      {Op::Not, kB, {U(kB)}, unknown},
      // Equivalence is never unknown; texts are equivalent ignoring case.
      {Op::Equiv, kB, {U(kI), U(kI)}, 1},
      {Op::Equiv, kB, {I(1), U(kI)}, 0},
      {Op::Equiv, kB, {T("a"), T("A")}, 1},
      {Op::Eq, kB, {T("a"), T("A")}, 0},
      {Op::Eq, kB, {U(kI), U(kI)}, unknown},
      // Text order is by bytes: 'A' < 'a'.
      {Op::Lt, kB, {T("A"), T("a")}, 1},
      {Op::Lt, kB, {T(""), T("a")}, 1},
      // Integers: 32-bit; out of range is unknown.
      {Op::Add, kI, {I(kMaxInteger), I(1)}, unknown},
      {Op::Sub, kI, {I(kMinInteger), I(1)}, unknown},
      {Op::Mul, kI, {I(65536), I(65536)}, unknown},
      {Op::Neg, kI, {I(kMinInteger)}, unknown},
      {Op::Abs, kI, {I(kMinInteger)}, unknown},
      {Op::IntDiv, kI, {I(-7), I(2)}, -3},
      {Op::Mod, kI, {I(-7), I(2)}, -1},
      {Op::IntDiv, kI, {I(7), I(0)}, unknown},
      {Op::Mod, kI, {I(7), I(0)}, unknown},
      {Op::Power, kI, {I(2), I(31)}, unknown},
      {Op::Power, kI, {I(-2), I(31)}, kMinInteger},
      {Op::Power, kI, {I(2), I(-1)}, unknown},
      {Op::Power, kI, {I(-1), I(kMaxInteger)}, -1},
      {Op::Power, kI, {I(0), I(0)}, 1},
      // Decimals: 8 places; out of range is unknown; division by zero is unknown.
      {Op::Add, kD, {D(INT64_MAX), D(1)}, unknown},
      {Op::Sub, kD, {D(-INT64_MAX), D(2)}, unknown},
      {Op::Mul, kD, {D(INT64_MAX / 3), D(3 * kOne)}, INT64_MAX / 3 * 3},
      {Op::Mul, kD, {D(INT64_MAX), D(2 * kOne)}, unknown},
      {Op::Mul, kD, {D(1), D(kOne / 2)}, 1},  // 0.00000001 * 0.5 rounds half away from zero
      {Op::Div, kD, {D(kOne), D(0)}, unknown},
      {Op::Div, kD, {D(kOne), D(3 * kOne)}, 33333333},
      {Op::Div, kD, {D(2 * kOne), D(3 * kOne)}, 66666667},
      {Op::IntDiv, kD, {D(-5 * kOne / 2), D(kOne)}, -2 * kOne},
      {Op::Mod, kD, {D(-5 * kOne / 2), D(kOne)}, -kOne / 2},
      {Op::Neg, kD, {D(-INT64_MAX)}, INT64_MAX},
      {Op::Round, kD, {D(5 * kOne / 2), I(0)}, 3 * kOne},
      {Op::Round, kD, {D(-5 * kOne / 2), I(0)}, -3 * kOne},
      {Op::Round, kD, {D(kOne / 2), I(9)}, unknown},
      {Op::Round, kD, {D(INT64_MAX), I(0)}, unknown},  // 92233720369 is past the decimal range
      {Op::Round, kD, {D(-INT64_MAX), I(2)}, unknown},
      {Op::Round, kD, {D(kOne / 2), I(-1)}, unknown},
      {Op::Floor, kI, {D(-kOne / 2)}, -1},
      {Op::Ceiling, kI, {D(-kOne / 2)}, 0},
      {Op::Truncate, kI, {D(-5 * kOne / 2)}, -2},
      {Op::Floor, kI, {D(INT64_MAX)}, unknown},  // 92233720368 is not a 32-bit integer
      {Op::Ln, kD, {D(0)}, unknown},
      {Op::Ln, kD, {D(kOne)}, 0},
      {Op::Exp, kD, {D(kOne)}, 271828183},  // e = 2.718281828..., rounded to 8 places
      {Op::Log, kD, {D(8 * kOne), D(2 * kOne)}, 3 * kOne},
      {Op::Log, kD, {D(8 * kOne), D(kOne)}, unknown},
      {Op::Power, kD, {D(-8 * kOne), D(kOne / 2)}, unknown},
      {Op::IntToDec, kD, {I(kMinInteger)}, kMinInteger * kOne},
      {Op::Coalesce, kI, {U(kI), I(7)}, 7},
      {Op::Coalesce, kI, {U(kI), U(kI)}, unknown},
      {Op::Select, kD, {U(kB), D(kOne), D(2 * kOne)}, 2 * kOne},  // an unknown condition selects the else
      {Op::IsNull, kB, {U(kD)}, 1},
      {Op::IsTrue, kB, {U(kB)}, 0},
      {Op::IsFalse, kB, {U(kB)}, 0},
      {Op::Add, Kind::Time, {Ms(kHour), D(90 * 60000 * kOne)}, kHour + 90 * 60000},
  };
  for (bool constants : {false, true}) {
    OpRule r;
    for (const Expected& e : table) r.Add(e.op, e.kind, e.args, constants);
    std::vector<Value> got = r.Run();
    for (size_t i = 0; i < table.size(); ++i) {
      const Expected& e = table[i];
      EXPECT_TRUE(Same(got[i], e.want)) << r.What(i) << ": got " << ShowValue(e.kind, got[i]) << ", want "
                        << (e.want ? ShowValue(e.kind, Value{*e.want, true}) : "unknown");
    }
  }
}

// Cases of an operation that reads a table of the rule (`aux`: a conversion, a band table),
// each with the value its definition gives.
struct AuxCase {
  int32_t aux;
  Operand in;
  std::optional<int64_t> want;
};

void ExpectAuxCases(OpRule& r, Op op, Kind kind, const std::vector<AuxCase>& cases, bool constants) {
  for (const AuxCase& c : cases) r.Add(op, kind, {c.in}, constants, 0, 0, c.aux);
  std::vector<Value> got = r.Run();
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_TRUE(Same(got[i], cases[i].want))
        << r.What(i) << " table " << cases[i].aux << ": got " << ShowValue(kind, got[i]);
  }
}

// Unit conversions with offsets: value_in_target = (value + from) * num / den - to.
TEST(Ops, ConversionsWithOffsets) {
  for (bool constants : {false, true}) {
    OpRule r;
    // Cel -> [degF]: * 9/5 + 32 (UCUM); K -> Cel: - 273.15.
    int32_t c_to_f = r.AddConversion({9, 5, 0, -32 * kOne});
    int32_t k_to_c = r.AddConversion({1, 1, 0, 27315 * kOne / 100});
    int32_t f_to_c = r.AddConversion({5, 9, -32 * kOne, 0});
    ExpectAuxCases(r, Op::Convert, Kind::Dec,
                   {
                       {c_to_f, D(37 * kOne), 986 * kOne / 10},  // 37 Cel = 98.6 [degF]
                       {c_to_f, D(-40 * kOne), -40 * kOne},      // the scales meet at -40
                       {c_to_f, D(0), 32 * kOne},
                       {k_to_c, D(0), -27315 * kOne / 100},
                       {f_to_c, D(986 * kOne / 10), 37 * kOne},
                       {f_to_c, D(kOne), -1722222222},  // (1 - 32) * 5/9 = -17.2222222222...
                       {c_to_f, D(INT64_MAX), std::nullopt},  // out of range
                       {c_to_f, U(Kind::Dec), std::nullopt},
                   },
                   constants);
  }
}

// Bands: closed intervals of raw values, the first matching row, `else`, no match unknown.
TEST(Ops, BandsPickTheFirstMatchingRow) {
  for (bool constants : {false, true}) {
    OpRule r;
    InstId zero = r.Constant(I(0)), one = r.Constant(I(1)), three = r.Constant(I(3));
    cdr::ir::BandTable closed;  // <= 8: 3; 9 .. 11: 1; 12 .. 20: 0 (integers); no else
    closed.rows = {{false, INT64_MIN, 8, three, ""}, {false, 9, 11, one, ""}, {false, 12, 20, zero, ""}};
    cdr::ir::BandTable open = closed;
    open.rows.push_back({true, INT64_MIN, INT64_MAX, three, ""});
    int32_t t_closed = r.AddBands(closed), t_open = r.AddBands(open);
    ExpectAuxCases(r, Op::Bands, Kind::Int,
                   {
                       {t_closed, I(kMinInteger), 3}, {t_closed, I(8), 3},  {t_closed, I(9), 1},
                       {t_closed, I(11), 1},          {t_closed, I(12), 0}, {t_closed, I(20), 0},
                       {t_closed, I(21), std::nullopt}, {t_closed, U(Kind::Int), std::nullopt},
                       {t_open, I(21), 3},            {t_open, U(Kind::Int), std::nullopt},
                   },
                   constants);
  }
}

// The operations that read events: every aggregate, the latest value, absence and
// sequence, over a list with values, one with an event lacking a value (an `event`
// signal), and an empty one, at windows that hold all, some and none of the events.
TEST(Ops, EventReadersAgree) {
  OpRule r;
  const int64_t h = kHour;
  std::vector<int32_t> slots = {
      r.Slot(Kind::Dec, {{kNow - 5 * h, 2 * kOne}, {kNow - 3 * h, 5 * kOne}, {kNow - h, kOne}, {kNow, 4 * kOne}}),
      r.Slot(Kind::Int, {{kNow - 5 * h, 2}, {kNow - 2 * h, -3}}),
      r.Slot(Kind::Dec, {}),
  };
  int32_t marker = r.Slot(Kind::Bool, {{kNow - 4 * h, std::nullopt}, {kNow - 2 * h, std::nullopt}});
  for (int32_t slot : slots) {
    Kind k = slot == 1 ? Kind::Int : Kind::Dec;
    for (int64_t window : {int64_t{-1}, 6 * h, 2 * h, h / 2, int64_t{0}}) {
      for (int a = 0; a <= static_cast<int>(cdr::ir::AggKind::TimeSince); ++a) {
        auto agg = static_cast<cdr::ir::AggKind>(a);
        cdr::ir::Inst in;
        in.op = Op::Agg;
        in.aux = slot;
        in.imm = window;
        in.imm2 = a;
        using A = cdr::ir::AggKind;
        in.kind = agg == A::Count ? Kind::Int
                  : agg == A::Exists ? Kind::Bool
                  : agg == A::TimeSince || agg == A::Slope || (agg == A::Avg && k == Kind::Int) ? Kind::Dec
                                                                                                : k;
        r.Let(r.Emit(in), in.kind, std::string(cdr::stdlib::Name(agg)) + " slot " + std::to_string(slot) + " window " +
                                        std::to_string(window));
      }
      cdr::ir::Inst absence;
      absence.op = Op::Absence;
      absence.kind = Kind::Bool;
      absence.aux = slot;
      absence.imm = window < 0 ? 0 : window;
      r.Let(r.Emit(absence), Kind::Bool, "absence slot " + std::to_string(slot) + " window " + std::to_string(window));
      cdr::ir::Inst seq;
      seq.op = Op::Sequence;
      seq.kind = Kind::Bool;
      seq.aux = marker;
      seq.imm2 = slot;
      seq.imm = window < 0 ? 0 : window;
      r.Let(r.Emit(seq), Kind::Bool, "marker then slot " + std::to_string(slot) + " within " + std::to_string(window));
    }
    cdr::ir::Inst latest;
    latest.op = Op::Latest;
    latest.kind = k;
    latest.aux = slot;
    r.Let(r.Emit(latest), k, "latest slot " + std::to_string(slot));
  }
  std::vector<Value> got = r.Run();
  ASSERT_FALSE(got.empty());
}

}  // namespace
