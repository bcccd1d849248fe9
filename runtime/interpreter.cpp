// runtime/interpreter.cpp: the reference semantics of the IR. Straight-line evaluation
// of each block; unknown propagates as in CQL; decimals are exact (stdlib::Decimal).
#include "runtime/interpreter.h"

#include <cstdio>
#include <type_traits>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>
#include <optional>
#include <unordered_map>

#include "stdlib/decimal.h"
#include "stdlib/decimal_math.h"
#include "runtime/window.h"

namespace cdr::runtime {
namespace {

using ir::Inst;
using ir::Kind;
using ir::Op;
using stdlib::Decimal;
using stdlib::Int128;

constexpr size_t kMaxEvidence = 100;

Value Unknown() { return Value{0, false}; }
const Value kUnknownValue{0, false};  // for functions that return an operand by reference
Value Known(int64_t v) { return Value{v, true}; }
Value Bool(bool b) { return Value{b ? 1 : 0, true}; }
Value From(std::optional<Decimal> d) { return d ? Known(d->raw()) : Unknown(); }

// An integer result: unknown outside the 32-bit range of the language's integers.
Value Int(int64_t v) { return v < stdlib::kMinInteger || v > stdlib::kMaxInteger ? Unknown() : Known(v); }

// The meaning of the operations both interpreter paths compute, once: Evaluator::OneOn
// (every operation) and the common loop (the frequent ones, inline) call these. The JIT
// writes them in LLVM IR; tests/unit/ops_test.cpp checks the three agree on edge values.

// Integer + and - (operands are 32-bit, so exact in 64 bits), decimal + and -.
[[gnu::always_inline]] inline Value IntAdd(int64_t a, int64_t b) { return Int(a + b); }
[[gnu::always_inline]] inline Value IntSub(int64_t a, int64_t b) { return Int(a - b); }
[[gnu::always_inline]] inline Value DecAdd(int64_t a, int64_t b) {
  return From(stdlib::Add(Decimal::FromRaw(a), Decimal::FromRaw(b)));
}
[[gnu::always_inline]] inline Value DecSub(int64_t a, int64_t b) {
  return From(stdlib::Sub(Decimal::FromRaw(a), Decimal::FromRaw(b)));
}
// A strict binary operation: unknown when either operand is.
template <typename F>
[[gnu::always_inline]] inline Value Strict(const Value& a, const Value& b, F f) {
  return a.known && b.known ? f(a.v, b.v) : Unknown();
}
// A comparison of two ordered keys (numbers, times, booleans as raw values; texts by a
// three-way compare against 0).
[[gnu::always_inline]] inline Value Compare(Op op, int64_t x, int64_t y) {
  switch (op) {
    case Op::Lt: return Bool(x < y);
    case Op::Le: return Bool(x <= y);
    case Op::Gt: return Bool(x > y);
    case Op::Ge: return Bool(x >= y);
    case Op::Eq: return Bool(x == y);
    case Op::Ne: return Bool(x != y);
    default: return Unknown();  // not a comparison
  }
}
[[gnu::always_inline]] inline Value NotOf(const Value& a) { return a.known ? Bool(!a.v) : Unknown(); }
// These two pick an operand: a reference, so that the caller copies the register once
// (a copy through a returned temporary went through the stack, 15% of a NEWS2 point).
[[gnu::always_inline]] inline const Value& CoalesceOf(const Value& a, const Value& b) { return a.known ? a : b; }
// a ? b : c; an unknown condition selects c.
[[gnu::always_inline]] inline const Value& SelectOf(const Value& a, const Value& b, const Value& c) {
  return (a.known && a.v) ? b : c;
}
// Three-valued `and` and `or` (CQL): false (true) wins over unknown.
[[gnu::always_inline]] inline Value And3(const Value& a, const Value& b) {
  if ((a.known && !a.v) || (b.known && !b.v)) return Bool(false);
  return a.known && b.known ? Bool(true) : Unknown();
}
[[gnu::always_inline]] inline Value Or3(const Value& a, const Value& b) {
  if ((a.known && a.v) || (b.known && b.v)) return Bool(true);
  return a.known && b.known ? Bool(false) : Unknown();
}

Value IntOp(Op op, int64_t a, int64_t b) {
  switch (op) {
    case Op::Add: return IntAdd(a, b);
    case Op::Sub: return IntSub(a, b);
    case Op::Mul: return Int(a * b);
    case Op::IntDiv:
      if (b == 0) return Unknown();
      return Int(a / b);
    case Op::Mod:
      if (b == 0) return Unknown();
      return Int(a % b);
    case Op::Power: {
      // a ^ b of integers: exact, or unknown outside the 32-bit range (or not an integer).
      if (a == 1 || a == -1) return Int(b % 2 == 0 ? 1 : a);
      if (b < 0) return Unknown();  // not an integer (and 0^-b has no value)
      if (a == 0) return Int(b == 0 ? 1 : 0);
      // |a| >= 2: by squaring, each step within 32 bits or the result is out of range.
      int64_t r = 1, base = a;
      for (int64_t e = b; e > 0; e >>= 1) {
        if (e & 1) {
          r *= base;
          if (r < stdlib::kMinInteger || r > stdlib::kMaxInteger) return Unknown();
        }
        if (e > 1) {
          base *= base;
          if (base > stdlib::kMaxInteger) return Unknown();  // its square is positive
        }
      }
      return Int(r);
    }
    default: return Unknown();
  }
}


Value DecOp(Op op, int64_t a, int64_t b) {
  Decimal x = Decimal::FromRaw(a), y = Decimal::FromRaw(b);
  switch (op) {
    case Op::Add: return DecAdd(a, b);
    case Op::Sub: return DecSub(a, b);
    case Op::Mul: return From(Mul(x, y));
    case Op::Div: return From(Div(x, y));
    case Op::IntDiv:
      if (b == 0) return Unknown();
      return From(Decimal::FromInteger(a / b));
    case Op::Mod:
      if (b == 0) return Unknown();
      return Known(a % b);
    case Op::Power: return From(stdlib::Power(x, y));  // correctly rounded (stdlib/decimal_math.h)
    default: return Unknown();
  }
}

// Floor, ceiling and truncation of a raw decimal, as a raw decimal.
int64_t FloorRaw(int64_t raw) {
  int64_t q = raw / Decimal::kOne;
  if (raw % Decimal::kOne != 0 && raw < 0) --q;
  return q;
}

// The list of a signal the patient has none of. At namespace scope: a function-local
// static (with its destructor to register) is checked for initialization, a guard load
// and branch, at every use, and SlotEvents runs for every aggregate.
const EventList kNoEvents;

// The events a rule's slot reads (none when the engine keeps no list for its signal).
const EventList& SlotEvents(const LoadedRule& rule, const PatientEvents& events, int32_t slot) {
  int32_t list = rule.slot_signal[static_cast<size_t>(slot)];
  if (list < 0 || static_cast<size_t>(list) >= events.by_signal.size()) return kNoEvents;
  return events.by_signal[static_cast<size_t>(list)];
}

// The index of the first event after `t` in ev[0, end). Evaluation looks at the latest
// events, so the search runs backwards from `end` in doubling steps, then bisects.
size_t FirstAfter(const EventList& ev, size_t end, int64_t t) {
  size_t hi = end, step = 1;  // ev[hi, end) are all after t
  while (hi > 0) {
    size_t lo = hi >= step ? hi - step : 0;
    if (ev[lo].time <= t) {
      auto it = std::upper_bound(ev.begin() + static_cast<std::ptrdiff_t>(lo) + 1, ev.begin() + static_cast<std::ptrdiff_t>(hi), t,
                                 [](int64_t x, const StoredEvent& e) { return x < e.time; });
      return static_cast<size_t>(it - ev.begin());
    }
    hi = lo;
    step *= 2;
  }
  return 0;
}

// [begin, end) of the events of `ev` with time in (now - window, now].
std::pair<size_t, size_t> WindowBounds(const EventList& ev, int64_t now, int64_t window) {
  size_t end = FirstAfter(ev, ev.size(), now);
  return {FirstAfter(ev, end, now - window), end};
}

// `no x within window`: no event with time in (now - window, now].
Value Absent(const EventList& ev, int64_t now, int64_t window) {
  size_t end = FirstAfter(ev, ev.size(), now);
  return Bool(!(end > 0 && ev[end - 1].time > now - window));
}

// An aggregate's value, and the events it came from (positions in the list; the end of
// the window when none): `first` for last, first, min, max, exists and time_since (the
// event each takes), `first` and `last` for delta.
struct AggregateResult {
  Value value;
  size_t first, last;
};

// a * b, a + b, a - b in 128 bits, or false when the exact result does not fit.
bool Mul(Int128 a, Int128 b, Int128& out) { return !__builtin_mul_overflow(a, b, &out); }
bool Add(Int128 a, Int128 b, Int128& out) { return !__builtin_add_overflow(a, b, &out); }
bool Sub(Int128 a, Int128 b, Int128& out) { return !__builtin_sub_overflow(a, b, &out); }

// The least-squares slope, per hour, of n points from sums over them with times from the
// first point's (t in ms; v raw decimals): unknown with fewer than 2 distinct times, or
// when an exact intermediate would not fit 128 bits.
Value SlopeOf(Int128 n, Int128 st, Int128 sv, Int128 stt, Int128 stv) {
  Int128 a, c, num, d, f, den;
  if (n < 2) return Unknown();
  if (!Mul(n, stv, a) || !Mul(st, sv, c) || !Sub(a, c, num)) return Unknown();
  if (!Mul(n, stt, d) || !Mul(st, st, f) || !Sub(d, f, den)) return Unknown();
  if (den == 0) return Unknown();
  // raw-per-ms -> raw-per-hour; FromRatio scales by 10^8, so divide that back out.
  Int128 scaled_num, scaled_den;
  if (!Mul(num, 3600000, scaled_num) || !Mul(den, Decimal::kOne, scaled_den)) return Unknown();
  return From(Decimal::FromRatio(scaled_num, scaled_den));
}

// An aggregate over the events ev[b, e) (those of its window), without evidence: with the
// list's window index (runtime/window.h) in O(log n), by scanning the window otherwise. Both
// give the same value: the index is only a faster way to the same sums and picks.
AggregateResult AggregateOver(const EventList& ev, size_t b, size_t e, int64_t now, ir::AggKind kind, bool int_signal,
                              Kind result_kind, uint8_t list_needs) {
  using A = ir::AggKind;
  // A small window is scanned: cheaper than the index, and bounded (kScanLimit). count,
  // exists and time_since never read the index; last, first and delta only to find
  // values among events that may lack one: for them it is not brought up to date (nor
  // built) otherwise.
  const bool reads_index = kind == A::Min || kind == A::Max || kind == A::Sum || kind == A::Avg ||
                           kind == A::Slope ||
                           ((kind == A::Last || kind == A::First || kind == A::Delta) && (list_needs & kNeedValued));
  const WindowIndex* index = reads_index && e - b > kScanLimit ? ev.index(list_needs) : nullptr;
  const uint8_t needs = index ? index->needs() : 0;
  AggregateResult r{Unknown(), e, e};
  // The first and last events with a value: by count when some may lack one (`event`
  // signals), directly otherwise (every event of a value signal has one).
  auto first_value = [&]() -> size_t {
    if (needs & kNeedValued) return index->FirstValue(b, e);
    for (size_t i = b; i < e; ++i) {
      if (ev[i].has_value) return i;
    }
    return e;
  };
  auto last_value = [&]() -> size_t {
    if (needs & kNeedValued) return index->LastValue(b, e);
    for (size_t i = e; i > b; --i) {
      if (ev[i - 1].has_value) return i - 1;
    }
    return e;
  };
  switch (kind) {
    case A::Count: r.value = Known(static_cast<int64_t>(e - b)); return r;
    case A::Exists:
    case A::Arrived:  // lowered as exists over (now - 1ms, now]
      r.value = Bool(b < e);
      if (b < e) r.first = e - 1;
      return r;
    case A::TimeSince:
      if (b < e) {
        r.first = e - 1;
        r.value = From(Decimal::FromRatio(now - ev[e - 1].time, 60000));
      }
      return r;
    case A::Last:
    case A::First: {
      size_t i = kind == A::Last ? last_value() : first_value();
      if (i < e) r.value = Known(ev[i].value), r.first = i;
      return r;
    }
    case A::Delta: {
      size_t f = first_value(), l = last_value();
      if (f == e) return r;
      r.first = f;
      r.last = l;
      r.value = result_kind == Kind::Int ? IntOp(Op::Sub, ev[l].value, ev[f].value) : DecOp(Op::Sub, ev[l].value, ev[f].value);
      return r;
    }
    case A::Min:
    case A::Max: {
      size_t best = e;
      if (needs & kNeedMinMax) {
        best = kind == A::Min ? index->Min(ev.data(), b, e) : index->Max(ev.data(), b, e);
      } else {
        for (size_t i = b; i < e; ++i) {
          if (!ev[i].has_value) continue;
          if (best == e || (kind == A::Min ? ev[i].value < ev[best].value : ev[i].value > ev[best].value)) best = i;
        }
      }
      if (best < e) r.value = Known(ev[best].value), r.first = best;
      return r;
    }
    case A::Avg:
    case A::Sum: {
      Int128 sum = 0;
      int64_t n = 0;
      if (needs & kNeedSums) {
        sum = index->SumValues(b, e);
        n = index->Values(b, e);
      } else {
        for (size_t i = b; i < e; ++i) {
          if (!ev[i].has_value) continue;
          sum += ev[i].value;
          ++n;
        }
      }
      if (n == 0) return r;
      if (kind == A::Sum) {
        if (sum > INT64_MAX || sum < INT64_MIN) return r;
        r.value = result_kind == Kind::Int ? Int(static_cast<int64_t>(sum)) : Known(static_cast<int64_t>(sum));  // integers: 32-bit
        return r;
      }
      // avg: a decimal; integer signals hold whole numbers, decimal ones raw 10^-8 steps.
      r.value = From(int_signal ? Decimal::FromRatio(sum, n) : Decimal::FromRatio(sum, static_cast<Int128>(n) * Decimal::kOne));
      return r;
    }
    case A::Slope: {
      // Least squares over (t, v), t in ms from the first point with a value; per hour.
      const Int128 scale = int_signal ? Decimal::kOne : 1;
      if (needs & kNeedMoments) {
        // From the prefix sums (times from the index's base), shifted to the first point:
        // the same sums a scan would add, exactly, unless a shift would not fit.
        size_t f = first_value();
        Int128 n = index->Values(b, e);
        if (f == e) return r;
        Int128 t0 = ev[f].time - index->base(), S_t = index->SumTimes(b, e), S_tt = index->SumSquaredTimes(b, e);
        Int128 S_v, S_tv, x, y, st, stt, stv;
        if (Mul(index->SumValues(b, e), scale, S_v) && Mul(index->SumTimesValues(b, e), scale, S_tv) &&
            Mul(n, t0, x) && Sub(S_t, x, st) && Mul(2 * t0, S_t, x) && Sub(S_tt, x, stt) && Mul(n * t0, t0, y) &&
            Add(stt, y, stt) && Mul(t0, S_v, x) && Sub(S_tv, x, stv)) {
          r.value = SlopeOf(n, st, S_v, stt, stv);
          return r;
        }
      }
      Int128 n = 0, st = 0, sv = 0, stt = 0, stv = 0;
      int64_t t0 = 0;
      for (size_t i = b; i < e; ++i) {
        if (!ev[i].has_value) continue;
        if (n == 0) t0 = ev[i].time;
        Int128 t = ev[i].time - t0;
        Int128 v = static_cast<Int128>(ev[i].value) * scale;
        ++n;
        st += t;
        sv += v;
        stt += t * t;
        stv += t * v;
      }
      r.value = SlopeOf(n, st, sv, stt, stv);
      return r;
    }
  }
  return r;
}

// The first row of a band table that `v` falls in, or -1.
int BandRow(const ir::BandTable& t, int64_t v) {
  for (size_t k = 0; k < t.rows.size(); ++k) {
    if (t.rows[k].is_else || (v >= t.rows[k].low && v <= t.rows[k].high)) return static_cast<int>(k);
  }
  return -1;
}

// The operations the interpreter's common loop (no evidence, no coverage) runs inline,
// each exactly as Evaluator::OneOn computes it; everything else goes through OneOn.
enum class Fast : uint8_t {
  General,
  AggLast,   // last(x within W), W >= 0
  Absence,   // no x within W
  Coalesce,
  Select,
  And,
  Or,
  Not,
  IntAdd,
  IntSub,
  DecAdd,
  DecSub,
  Lt,  // Lt .. Ge: numbers, times and booleans (raw order); texts go through OneOn
  Le,
  Gt,
  Ge,
  Eq,
  Ne,
  Bands,
};

Fast FastOf(const ir::Block& block, const Inst& in) {
  auto kind_of = [&](ir::InstId x) { return block.insts[static_cast<size_t>(x)].kind; };
  switch (in.op) {
    case Op::Agg:
      return static_cast<ir::AggKind>(in.imm2) == ir::AggKind::Last && in.imm >= 0 ? Fast::AggLast : Fast::General;
    case Op::Absence: return in.imm >= 0 ? Fast::Absence : Fast::General;
    case Op::Coalesce: return Fast::Coalesce;
    case Op::Select: return Fast::Select;
    case Op::And: return Fast::And;
    case Op::Or: return Fast::Or;
    case Op::Not: return Fast::Not;
    case Op::Add:
    case Op::Sub: {
      if (in.kind == Kind::Time || kind_of(in.a) == Kind::Time) return Fast::General;
      bool add = in.op == Op::Add;
      if (in.kind == Kind::Int) return add ? Fast::IntAdd : Fast::IntSub;
      return add ? Fast::DecAdd : Fast::DecSub;
    }
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge:
      if (kind_of(in.a) == Kind::Text) return Fast::General;
      return in.op == Op::Lt ? Fast::Lt : in.op == Op::Le ? Fast::Le : in.op == Op::Gt ? Fast::Gt : Fast::Ge;
    case Op::Eq: return Fast::Eq;
    case Op::Ne: return Fast::Ne;
    case Op::Bands: return Fast::Bands;
    default: return Fast::General;
  }
}

}  // namespace

int64_t Interner::Intern(const std::string& s) {
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), s,
                             [](const auto& p, const std::string& k) { return p.first < k; });
  if (it != sorted_.end() && it->first == s) return it->second;
  int64_t id = static_cast<int64_t>(texts_.size());
  texts_.push_back(s);
  sorted_.insert(it, {s, id});
  return id;
}

LoadedRule Load(const ir::Module& module, const ir::Rule& rule, Interner& interner, const std::vector<int32_t>& store_of,
                const std::vector<uint8_t>& list_needs) {
  LoadedRule r;
  r.ir = &rule;
  for (const auto& t : rule.texts) r.text_ids.push_back(interner.Intern(t));
  for (const auto& s : rule.slots) {
    r.slot_signal.push_back(store_of[static_cast<size_t>(s.signal)]);
    int32_t list = r.slot_signal.back();
    r.slot_needs.push_back(list >= 0 && static_cast<size_t>(list) < list_needs.size() ? list_needs[static_cast<size_t>(list)] : 0);
    // A slot whose signal has no list cannot be read natively (the engine keeps a list for
    // every signal its rules read).
    r.lists_needed = r.slot_signal.back() < 0 ? SIZE_MAX
                                              : std::max(r.lists_needed, static_cast<size_t>(r.slot_signal.back()) + 1);
    r.slot_int.push_back(module.signals[static_cast<size_t>(s.signal)].type == ir::SignalType::Integer);
  }
  r.regs0 = rule.blocks.empty() ? 0 : rule.blocks[0].insts.size();
  // Constants do not depend on the events: they are put in place once per evaluation by
  // copying, rather than computed one instruction at a time (half of NEWS2's).
  for (const auto& b : rule.blocks) {
    auto& init = r.initial_regs.emplace_back(b.insts.size(), Value{});
    auto& steps = r.steps.emplace_back();
    for (size_t i = 0; i < b.insts.size(); ++i) {
      const ir::Inst& in = b.insts[i];
      if (in.op == ir::Op::Const) {
        init[i] = Value{in.kind == ir::Kind::Text ? r.text_ids[static_cast<size_t>(in.imm)] : in.imm, true};
      } else if (in.op != ir::Op::Unknown) {
        auto operand = [](ir::InstId x) { return x < 0 ? 0 : static_cast<int32_t>(x); };
        steps.push_back(LoadedRule::Step{static_cast<uint8_t>(FastOf(b, in)), static_cast<int32_t>(i), operand(in.a),
                                         operand(in.b), operand(in.c), in.aux, in.imm});
      }
    }
  }
  r.site_of.assign(r.regs0, -1);
  for (size_t i = 0; i < rule.evidence.size(); ++i) r.site_of[static_cast<size_t>(rule.evidence[i].inst)] = static_cast<int32_t>(i);
  return r;
}

namespace {

// What native code reads of an evaluation besides its registers.
NativeEnv EnvFor(const LoadedRule& rule, const PatientEvents& events, int64_t retention_ms) {
  return NativeEnv{rule.text_ids.data(), events.by_signal.data(), rule.slot_signal.data(), retention_ms};
}

struct NativeCall;

class Evaluator {
 public:
  explicit Evaluator(NativeCall& call);

  // `primed`: regs already holds this block's constants (Evaluate's regs_primed); every
  // register the block computes is written below, so the rest need no copy.
  void Block(int b, int64_t now, std::vector<Value>& regs, bool primed = false) {
    if (!rule_.native.empty()) return Native(b, now, regs);
    const auto& insts = rule_.ir->blocks[static_cast<size_t>(b)].insts;
    const auto& init = rule_.initial_regs[static_cast<size_t>(b)];
    if (!primed || regs.size() != init.size()) regs.assign(init.begin(), init.end());
    if (evidence_ || coverage_) {
      for (const LoadedRule::Step& st : rule_.steps[static_cast<size_t>(b)]) {
        regs[static_cast<size_t>(st.i)] = One(b, insts[static_cast<size_t>(st.i)], st.i, now, regs);
      }
      return;
    }
    // The common loop: no evidence, no coverage. The frequent operations are computed
    // here, as OneOn computes them, without a call each; `r` stays valid (a nested
    // block, of `sustained`, has registers of its own).
    Value* r = regs.data();
    for (const LoadedRule::Step& st : rule_.steps[static_cast<size_t>(b)]) {
      size_t i = static_cast<size_t>(st.i);
      const Value& a = r[static_cast<size_t>(st.a)];
      const Value& c = r[static_cast<size_t>(st.b)];
      // Each operation through its shared definition, as a lambda (a constant operation
      // folds; a function pointer would be a call).
#define CDR_STRICT(f) Strict(a, c, [](int64_t x, int64_t y) { return f; })
      // Every step kind is listed (-Wswitch-enum is an error here: a new kind must be
      // handled); Load makes only these (FastOf), so the default needs no range check.
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch-enum"
      switch (static_cast<Fast>(st.fast)) {
        case Fast::AggLast: r[i] = LastWithin(st.aux, now, st.imm); break;
        case Fast::Absence: r[i] = Absent(Events(st.aux), now, st.imm); break;
        case Fast::Coalesce: r[i] = CoalesceOf(a, c); break;
        case Fast::Select: r[i] = SelectOf(a, c, r[static_cast<size_t>(st.c)]); break;
        case Fast::And: r[i] = And3(a, c); break;
        case Fast::Or: r[i] = Or3(a, c); break;
        case Fast::Not: r[i] = NotOf(a); break;
        case Fast::IntAdd: r[i] = CDR_STRICT(IntAdd(x, y)); break;
        case Fast::IntSub: r[i] = CDR_STRICT(IntSub(x, y)); break;
        case Fast::DecAdd: r[i] = CDR_STRICT(DecAdd(x, y)); break;
        case Fast::DecSub: r[i] = CDR_STRICT(DecSub(x, y)); break;
        case Fast::Lt: r[i] = CDR_STRICT(Compare(Op::Lt, x, y)); break;
        case Fast::Le: r[i] = CDR_STRICT(Compare(Op::Le, x, y)); break;
        case Fast::Gt: r[i] = CDR_STRICT(Compare(Op::Gt, x, y)); break;
        case Fast::Ge: r[i] = CDR_STRICT(Compare(Op::Ge, x, y)); break;
        case Fast::Eq: r[i] = CDR_STRICT(Compare(Op::Eq, x, y)); break;
        case Fast::Ne: r[i] = CDR_STRICT(Compare(Op::Ne, x, y)); break;
        case Fast::Bands: r[i] = BandValue(st.aux, a, r, nullptr); break;
        case Fast::General: r[i] = OneOn(b, insts[i], static_cast<ir::InstId>(i), now, RegView{r}); break;
        default: __builtin_unreachable();
      }
#pragma GCC diagnostic pop
#undef CDR_STRICT
    }
  }

  // A nested block (a `for` condition) as native code; Evaluate runs block 0.
  void Native(int b, int64_t now, std::vector<Value>& regs) {
    size_t n = rule_.ir->blocks[static_cast<size_t>(b)].insts.size();
    if (regs.size() < n) regs.resize(n);
    NativeEnv env = EnvFor(rule_, events_, retention_ms_);
    int outer = current_block_;
    current_block_ = b;
    rule_.native[static_cast<size_t>(b)](&call_, now, regs.data(), &env, evidence_ ? kNativeEvidence : 0);
    current_block_ = outer;
  }

  // The runtime's entry for native code (cdr_rt_inst).
  Value RunInst(int b, ir::InstId id, int64_t now, const Value* regs) {
    const auto& insts = rule_.ir->blocks[static_cast<size_t>(b)].insts;
    // One reads operands by index; native registers live in the caller's array.
    RegView view{regs};
    int outer = current_block_;
    Value v = OneOn(b, insts[static_cast<size_t>(id)], id, now, view);
    current_block_ = outer;
    return v;
  }

  void Cover(int32_t table, int32_t row) {  // row -1: none matched
    if (coverage_ && row >= 0) coverage_->band_rows[static_cast<size_t>(table)][static_cast<size_t>(row)] = true;
  }

 private:
  struct RegView {
    const Value* p;
    const Value& operator[](size_t i) const { return p[i]; }
  };
  const EventList& Events(int32_t slot) const { return SlotEvents(rule_, events_, slot); }

  // `bands` with table `table` over `a`: the first matching row's value (a register), and
  // that row recorded in `coverage` when given.
  template <typename Regs>
  const Value& BandValue(int32_t table, const Value& a, const Regs& r, Coverage* coverage) const {
    const ir::BandTable& t = rule_.ir->bands[static_cast<size_t>(table)];
    int row = a.known ? BandRow(t, a.v) : -1;
    if (row < 0) return kUnknownValue;
    if (coverage) coverage->band_rows[static_cast<size_t>(table)][static_cast<size_t>(row)] = true;
    return r[static_cast<size_t>(t.rows[static_cast<size_t>(row)].value)];
  }

  // last(x within window), window >= 0, as Agg computes it without evidence: the latest
  // event with a value among those with time in (now - window, now].
  Value LastWithin(int32_t slot, int64_t now, int64_t window) const {
    const EventList& ev = Events(slot);
    size_t i = FirstAfter(ev, ev.size(), now);
    if (i > 0 && !ev[i - 1].has_value) {  // events may lack values (`event` signals)
      size_t b = FirstAfter(ev, i, now - window);
      return AggregateOver(ev, b, i, now, ir::AggKind::Last, false, Kind::Dec, rule_.slot_needs[static_cast<size_t>(slot)])
          .value;
    }
    for (; i > 0 && ev[i - 1].time > now - window; --i) {
      if (ev[i - 1].has_value) return Known(ev[i - 1].value);
    }
    return Unknown();
  }

  // [begin, end) of the events with time in (now - window, now]; window < 0: the retention.
  std::pair<size_t, size_t> Range(const EventList& ev, int64_t now, int64_t window) const {
    return WindowBounds(ev, now, window < 0 ? retention_ms_ : window);
  }

  void Note(ir::InstId id, int32_t slot, const StoredEvent& e) {
    if (!evidence_ || current_block_ != 0) return;
    int32_t site = rule_.site_of[static_cast<size_t>(id)];
    if (site < 0) return;
    auto& list = (*evidence_)[static_cast<size_t>(site)];
    if (list.size() < kMaxEvidence) list.push_back(EventRef{rule_.slot_signal[static_cast<size_t>(slot)], &e});
  }

  Value Agg(const Inst& in, ir::InstId id, int64_t now) {
    const auto& ev = Events(in.aux);
    auto [b, e] = Range(ev, now, in.imm);
    auto kind = static_cast<ir::AggKind>(in.imm2);
    AggregateResult r = AggregateOver(ev, b, e, now, kind, rule_.slot_int[static_cast<size_t>(in.aux)], in.kind,
                                      rule_.slot_needs[static_cast<size_t>(in.aux)]);
    if (!evidence_ || current_block_ != 0 || rule_.site_of[static_cast<size_t>(id)] < 0) return r.value;
    // The evidence: the events the value came from (at most kMaxEvidence).
    using A = ir::AggKind;
    switch (kind) {
      case A::Count:
        for (size_t i = b; i < e && i - b < kMaxEvidence; ++i) Note(id, in.aux, ev[i]);
        break;
      case A::Avg:
      case A::Sum:
      case A::Slope:
        for (size_t i = b, n = 0; i < e && n < kMaxEvidence; ++i) {
          if (ev[i].has_value) Note(id, in.aux, ev[i]), ++n;
        }
        break;
      case A::Last:
      case A::First:
      case A::Min:
      case A::Max:
      case A::Exists:
      case A::Arrived:
      case A::Delta:
      case A::TimeSince:
        if (r.first < e) Note(id, in.aux, ev[r.first]);
        if (r.last < e && r.last != r.first) Note(id, in.aux, ev[r.last]);
        break;
    }
    return r.value;
  }
  // `C for D` (instruction `id` of block `b`): C held at now - D and at every change
  // instant of C in (now - D, now].
  Value Sustained(int b, ir::InstId id, const Inst& in, int64_t now) {
    const int sub = in.aux;
    const int64_t d = in.imm;
    // Buffers reused across evaluations, one set per nesting depth (a deque keeps an
    // outer frame's buffers in place while an inner frame adds its own).
    static thread_local std::deque<Frame> pool;
    if (pool.size() <= sustained_depth_) pool.emplace_back();
    Frame& f = pool[sustained_depth_];
    ++sustained_depth_;
    int outer = current_block_;
    current_block_ = sub;
    const int32_t cond = static_cast<int32_t>(in.imm2);
    bool held;
    SustainedMemo* memo = coverage_ ? nullptr : events_.sustained;  // coverage wants every evaluation made
    SustainedMemo::Entry* m = memo ? memo->Find(rule_.ir, b, id) : nullptr;
    // A new entry only for a long window (counted, not collected: Learn collects them).
    if (!m && memo && Instants(sub, now - d, now, f, false) > kScanLimit) m = &memo->Add(rule_.ir, b, id);
    if (m) {
      held = Learn(*m, sub, cond, d, now, f);
    } else {
      // C at now - D, then at every instant of the window (all after it), until one fails.
      Instants(sub, now - d, now, f, true);
      held = HoldsAt(sub, cond, now - d, f.regs);
      for (size_t i = 0; held && i < f.instants.size(); ++i) held = HoldsAt(sub, cond, f.instants[i], f.regs);
    }
    current_block_ = outer;
    --sustained_depth_;
    return Bool(held);
  }

  struct Frame {
    std::vector<int64_t> instants, not_held;
    std::vector<Value> regs;
  };

  // The condition (register `cond` of block `sub`) at t: true and known.
  bool HoldsAt(int sub, int32_t cond, int64_t t, std::vector<Value>& regs) {
    Block(sub, t, regs);
    const Value& c = regs[static_cast<size_t>(cond)];
    return c.known && c.v != 0;
  }

  // The number of change instants of block `sub` in (from, to]; with `collect`, those
  // instants, ascending and each once, into f.instants. The condition changes only there:
  // where an event enters or leaves a window it reads (time + offset).
  size_t Instants(int sub, int64_t from, int64_t to, Frame& f, bool collect) {
    size_t n = 0;
    if (collect) f.instants.clear();
    for (const ir::Timer& c : rule_.ir->blocks[static_cast<size_t>(sub)].changes) {
      int64_t offset = c.offset_ms + (c.after_retention ? retention_ms_ : 0);
      const auto& ev = Events(c.slot);
      auto [lo, hi] = WindowBounds(ev, to - offset, to - from);  // time + offset in (from, to]
      n += hi - lo;
      if (collect) {
        for (size_t i = lo; i < hi; ++i) f.instants.push_back(ev[i].time + offset);
      }
    }
    if (collect) {
      std::sort(f.instants.begin(), f.instants.end());
      f.instants.erase(std::unique(f.instants.begin(), f.instants.end()), f.instants.end());
    }
    return n;
  }

  // `C for D` at now through the memo's entry: its span of known instants brought to
  // cover (now - D, now] (each new instant evaluated once), then one lookup.
  bool Learn(SustainedMemo::Entry& m, int sub, int32_t cond, int64_t d, int64_t now, Frame& f) {
    const int64_t from = now - d;
    // Evaluates the instants in (a, b] into f.not_held (those where C does not hold).
    auto learn = [&](int64_t a, int64_t b) {
      Instants(sub, a, b, f, true);
      f.not_held.clear();
      for (int64_t t : f.instants) {
        if (!HoldsAt(sub, cond, t, f.regs)) f.not_held.push_back(t);
      }
    };
    if (m.hi <= m.lo || from > m.hi || now < m.lo) {  // nothing known, or apart: start again
      m.lo = m.hi = from;
      m.not_held.clear();
      m.head = 0;
    }
    if (from < m.lo) {  // earlier instants: before those known
      learn(from, m.lo);
      m.not_held.erase(m.not_held.begin(), m.not_held.begin() + static_cast<std::ptrdiff_t>(m.head));
      m.not_held.insert(m.not_held.begin(), f.not_held.begin(), f.not_held.end());
      m.head = 0;
      m.lo = from;
    }
    if (now > m.hi) {  // later instants: after those known
      learn(m.hi, now);
      m.not_held.insert(m.not_held.end(), f.not_held.begin(), f.not_held.end());
      m.hi = now;
    }
    auto first = std::upper_bound(m.not_held.begin() + static_cast<std::ptrdiff_t>(m.head), m.not_held.end(), from);
    bool held = (first == m.not_held.end() || *first > now) && HoldsAt(sub, cond, from, f.regs);
    // Keep what a point up to D before the latest needs; drop the rest.
    if (m.lo < m.hi - 2 * d) {
      m.lo = m.hi - 2 * d;
      while (m.head < m.not_held.size() && m.not_held[m.head] <= m.lo) ++m.head;
      if (m.head > 64 && m.head * 2 > m.not_held.size()) {
        m.not_held.erase(m.not_held.begin(), m.not_held.begin() + static_cast<std::ptrdiff_t>(m.head));
        m.head = 0;
      }
    }
    return held;
  }

  Value One(int b, const Inst& in, ir::InstId id, int64_t now, const std::vector<Value>& r) {
    return OneOn(b, in, id, now, RegView{r.data()});
  }

  template <typename Regs>
  Value OneOn(int b, const Inst& in, ir::InstId id, int64_t now, const Regs& r) {
    current_block_ = b;
    auto A = [&]() -> const Value& { return r[static_cast<size_t>(in.a)]; };
    auto B = [&]() -> const Value& { return r[static_cast<size_t>(in.b)]; };
    const auto& insts = rule_.ir->blocks[static_cast<size_t>(b)].insts;
    auto kind_of = [&](ir::InstId x) { return insts[static_cast<size_t>(x)].kind; };
    switch (in.op) {
      case Op::Const:
        if (in.kind == Kind::Text) return Known(rule_.text_ids[static_cast<size_t>(in.imm)]);
        return Known(in.imm);
      case Op::Unknown: return Unknown();
      case Op::Neg:
        if (!A().known) return Unknown();
        if (in.kind == Kind::Int) return Int(-A().v);
        return A().v == INT64_MIN ? Unknown() : Known(-A().v);
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
      case Op::Div:
      case Op::IntDiv:
      case Op::Mod:
      case Op::Power: {
        if (!A().known || !B().known) return Unknown();
        if (in.kind == Kind::Time || kind_of(in.a) == Kind::Time) {
          // time +/- ms (the duration is a decimal count of ms), or time - time in ms
          int64_t ms = kind_of(in.b) == Kind::Time ? B().v : B().v / Decimal::kOne;
          if (kind_of(in.b) == Kind::Time) return From(Decimal::FromInteger(A().v - ms));
          return Known(in.op == Op::Add ? A().v + ms : A().v - ms);
        }
        if (in.kind == Kind::Int) return IntOp(in.op, A().v, B().v);
        return DecOp(in.op, A().v, B().v);
      }
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge:
        if (kind_of(in.a) == Kind::Text && A().known && B().known) {
          return Compare(in.op, interner_.Text(A().v).compare(interner_.Text(B().v)), 0);
        }
        return Strict(A(), B(), [&](int64_t x, int64_t y) { return Compare(in.op, x, y); });
      case Op::Eq:
      case Op::Ne: return Strict(A(), B(), [&](int64_t x, int64_t y) { return Compare(in.op, x, y); });
      case Op::Equiv:
        if (!A().known || !B().known) return Bool(A().known == B().known);
        if (kind_of(in.a) == Kind::Text && A().v != B().v) {
          // Texts are equivalent ignoring case, as in CQL (ASCII letters).
          const std::string &x = interner_.Text(A().v), &y = interner_.Text(B().v);
          return Bool(x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](char p, char q) {
                        return std::tolower(static_cast<unsigned char>(p)) == std::tolower(static_cast<unsigned char>(q));
                      }));
        }
        return Bool(A().v == B().v);
      case Op::And: return And3(A(), B());
      case Op::Or: return Or3(A(), B());
      case Op::Xor:
        if (!A().known || !B().known) return Unknown();
        return Bool((A().v != 0) != (B().v != 0));
      case Op::Implies:
        if ((A().known && !A().v) || (B().known && B().v)) return Bool(true);
        if (A().known && B().known) return Bool(false);
        return Unknown();
      case Op::Not: return NotOf(A());
      case Op::IsNull: return Bool(!A().known);
      case Op::IsTrue: return Bool(A().known && A().v);
      case Op::IsFalse: return Bool(A().known && !A().v);
      case Op::Coalesce: return CoalesceOf(A(), B());
      case Op::Select: return SelectOf(A(), B(), r[static_cast<size_t>(in.c)]);
      case Op::IntToDec:
        if (!A().known) return Unknown();
        return From(Decimal::FromInteger(A().v));
      case Op::Convert: {
        if (!A().known) return Unknown();
        const ir::Conversion& c = rule_.ir->conversions[static_cast<size_t>(in.aux)];
        auto shifted = stdlib::Add(Decimal::FromRaw(A().v), Decimal::FromRaw(c.from_offset));
        if (!shifted) return Unknown();
        auto scaled = shifted->Scale(c.num, c.den);
        if (!scaled) return Unknown();
        return From(stdlib::Sub(*scaled, Decimal::FromRaw(c.to_offset)));
      }
      case Op::Abs:
        if (!A().known) return Unknown();
        if (in.kind == Kind::Int) return Int(A().v < 0 ? -A().v : A().v);
        return A().v == INT64_MIN ? Unknown() : Known(A().v < 0 ? -A().v : A().v);
      // Correctly rounded to 8 places (stdlib/decimal_math.h).
      case Op::Ln:
        if (!A().known) return Unknown();
        return From(stdlib::Ln(Decimal::FromRaw(A().v)));
      case Op::Exp:
        if (!A().known) return Unknown();
        return From(stdlib::Exp(Decimal::FromRaw(A().v)));
      case Op::Log: {
        if (!A().known || !B().known) return Unknown();
        return From(stdlib::Log(Decimal::FromRaw(A().v), Decimal::FromRaw(B().v)));
      }
      case Op::Floor:
      case Op::Ceiling:
      case Op::Truncate: {
        if (!A().known) return Unknown();
        if (kind_of(in.a) == Kind::Int) return A();
        int64_t raw = A().v;
        int64_t q = in.op == Op::Floor ? FloorRaw(raw)
                    : in.op == Op::Ceiling ? -FloorRaw(-raw)
                                           : raw / Decimal::kOne;
        if (in.kind == Kind::Int) return Int(q);
        return From(Decimal::FromInteger(q));
      }
      case Op::Round: {
        if (!A().known || !B().known) return Unknown();
        if (kind_of(in.a) == Kind::Int) return A();
        int64_t places = B().v;
        if (places < 0 || places > Decimal::kScale) return Unknown();
        int64_t unit = 1;
        for (int64_t i = places; i < Decimal::kScale; ++i) unit *= 10;
        int64_t raw = A().v;
        int64_t q = raw / unit, rem = raw % unit;
        if (2 * (rem < 0 ? -rem : rem) >= unit) q += raw < 0 ? -1 : 1;
        // Rounding away from zero can leave the decimal range (92233720368.54775807 to 0
        // places is 92233720369): unknown, as every result outside its range.
        int64_t rounded;
        if (__builtin_mul_overflow(q, unit, &rounded)) return Unknown();
        return Known(rounded);
      }
      case Op::Bands: return BandValue(in.aux, A(), r, coverage_ && b == 0 ? coverage_ : nullptr);
      case Op::Agg: return Agg(in, id, now);
      case Op::Latest: return LastWithin(in.aux, now, retention_ms_);
      case Op::Absence: return Absent(Events(in.aux), now, in.imm < 0 ? retention_ms_ : in.imm);
      case Op::Sequence: {
        const auto& first = Events(in.aux);
        const auto& second = Events(static_cast<int32_t>(in.imm2));
        auto [fb, fe] = Range(first, now, -1);
        auto [sb, se] = Range(second, now, -1);
        // Some b with an a in [b - D, b].
        size_t j = fb;
        for (size_t i = sb; i < se; ++i) {
          int64_t tb = second[i].time;
          while (j < fe && first[j].time < tb - in.imm) ++j;
          if (j < fe && first[j].time <= tb) return Bool(true);
        }
        return Bool(false);
      }
      case Op::Sustained: return Sustained(b, id, in, now);
    }
    return Unknown();
  }

  NativeCall& call_;
  const LoadedRule& rule_;
  const PatientEvents& events_;
  const Interner& interner_;
  std::vector<std::vector<EventRef>>* evidence_;
  Coverage* coverage_;
  int64_t retention_ms_;
  int current_block_ = 0;
  size_t sustained_depth_ = 0;
};

// What native code passes back to the runtime (cdr_rt_inst, cdr_rt_cover): the
// evaluation's arguments, and the evaluator, made on the first call. Evaluations of
// compiled rules mostly never call the runtime, so they never make one.
struct NativeCall {
  // A constructor rather than aggregate initialisation: the latter zeroes the evaluator's
  // whole storage (a `rep stos` of 112 bytes, a third of an empty native evaluation).
  NativeCall(const LoadedRule& r, const PatientEvents& e, const Interner& i, std::vector<std::vector<EventRef>>* ev,
             Coverage* c, int64_t retention)
      : rule(r), events(e), interner(i), evidence(ev), coverage(c), retention_ms(retention) {}

  const LoadedRule& rule;
  const PatientEvents& events;
  const Interner& interner;
  std::vector<std::vector<EventRef>>* evidence;
  Coverage* coverage;
  int64_t retention_ms;
  std::optional<Evaluator> evaluator;

  Evaluator& Get() {
    if (!evaluator) evaluator.emplace(*this);
    return *evaluator;
  }
};

Evaluator::Evaluator(NativeCall& call)
    : call_(call), rule_(call.rule), events_(call.events), interner_(call.interner), evidence_(call.evidence),
      coverage_(call.coverage), retention_ms_(call.retention_ms) {
  if (evidence_) {
    evidence_->resize(rule_.ir->evidence.size());
    for (auto& list : *evidence_) list.clear();
  }
}

static_assert(offsetof(StoredEvent, time) == 0 && offsetof(StoredEvent, value) == 8 &&
                  offsetof(StoredEvent, has_value) == 16 && sizeof(StoredEvent) == 24 &&
                  std::is_trivially_copyable_v<StoredEvent>,
              "the layout native code reads (compiler/jit/jit.cpp)");
static_assert(std::is_standard_layout_v<EventSpan> && sizeof(EventSpan) == 16,
              "the span native code reads at the start of an EventList (compiler/jit/jit.cpp)");

}  // namespace

void RtInst(void* ctx, int32_t block, int32_t inst, int64_t now, Value* regs, Value* out) {
  *out = static_cast<NativeCall*>(ctx)->Get().RunInst(block, inst, now, regs);
}

void RtCover(void* ctx, int32_t table, int32_t row) { static_cast<NativeCall*>(ctx)->Get().Cover(table, row); }

void RtAgg(void* ctx, int32_t block, int32_t inst, int64_t now, Value* out) {
  // No evaluator: the aggregate alone, as Evaluator::Agg computes it without evidence.
  const NativeCall& call = *static_cast<NativeCall*>(ctx);
  const ir::Inst& in = call.rule.ir->blocks[static_cast<size_t>(block)].insts[static_cast<size_t>(inst)];
  *out = WindowAggregate(SlotEvents(call.rule, call.events, in.aux), now, in.imm < 0 ? call.retention_ms : in.imm,
                         static_cast<ir::AggKind>(in.imm2), call.rule.slot_int[static_cast<size_t>(in.aux)], in.kind,
                         call.rule.slot_needs[static_cast<size_t>(in.aux)]);
}

void SustainedMemo::Changed(const ir::Rule* rule, int64_t time) {
  for (auto& e : entries_) {
    if (e->rule != rule || e->hi < time) continue;
    // C at an instant reads the events before or at it: those from `time` on are unknown now.
    e->hi = std::max(e->lo, time - 1);
    while (e->not_held.size() > e->head && e->not_held.back() > e->hi) e->not_held.pop_back();
  }
}

SustainedMemo::Entry* SustainedMemo::Find(const ir::Rule* rule, int32_t block, int32_t inst) {
  for (auto& e : entries_) {
    if (e->rule == rule && e->block == block && e->inst == inst) return e.get();
  }
  return nullptr;
}

SustainedMemo::Entry& SustainedMemo::Add(const ir::Rule* rule, int32_t block, int32_t inst) {
  auto& e = entries_.emplace_back(std::make_unique<Entry>());
  e->rule = rule;
  e->block = block;
  e->inst = inst;
  return *e;
}

Value WindowAggregate(const EventList& list, int64_t now, int64_t window, ir::AggKind kind, bool int_signal,
                      ir::Kind result_kind, uint8_t needs) {
  auto [b, e] = WindowBounds(list, now, window);
  return AggregateOver(list, b, e, now, kind, int_signal, result_kind, needs).value;
}

namespace {

void PrepareCoverage(const LoadedRule& rule, Coverage& coverage) {
  if (coverage.band_rows.size() == rule.ir->bands.size() && coverage.whens.size() == rule.ir->whens.size()) return;
  coverage.band_rows.clear();
  for (const auto& t : rule.ir->bands) coverage.band_rows.emplace_back(t.rows.size(), false);
  coverage.whens.assign(rule.ir->whens.size(), false);
}

void CoverWhens(const LoadedRule& rule, const std::vector<Value>& regs, Coverage& coverage) {
  for (size_t i = 0; i < rule.ir->whens.size(); ++i) {
    const Value& c = regs[static_cast<size_t>(rule.ir->whens[i].cond)];
    if (c.known && c.v) coverage.whens[i] = true;
  }
}

[[noreturn]] __attribute__((noinline, cold)) void NativeListsMissing(const LoadedRule& rule,
                                                                   const PatientEvents& events) {
  // Native code reads every slot's list without a bounds check; the engine keeps one
  // list per signal its rules read, so this is a bug of the caller, not of the input.
  std::fprintf(stderr, "cdr: internal error: rule %s evaluated natively over %zu event lists, fewer than it reads\n",
               rule.ir->id.c_str(), events.by_signal.size());
  std::abort();
}

// The evaluations off the common path, kept out of line so that the common one (native
// code, no evidence, no coverage) stays a few stores and a call.
__attribute__((noinline)) void EvaluateInterpreted(const LoadedRule& rule, const PatientEvents& events, int64_t now,
                                                   const Interner& interner, std::vector<Value>& regs,
                                                   std::vector<std::vector<EventRef>>* evidence, Coverage* coverage,
                                                   int64_t retention_ms, bool regs_primed) {
  if (coverage) PrepareCoverage(rule, *coverage);
  NativeCall call(rule, events, interner, evidence, coverage, retention_ms);
  call.Get().Block(0, now, regs, regs_primed);
  if (coverage) CoverWhens(rule, regs, *coverage);
}

__attribute__((noinline)) void EvaluateNativeWithFlags(const LoadedRule& rule, const PatientEvents& events, int64_t now,
                                                       const Interner& interner, std::vector<Value>& regs,
                                                       std::vector<std::vector<EventRef>>* evidence,
                                                       Coverage* coverage, int64_t retention_ms, int32_t flags) {
  if (coverage) PrepareCoverage(rule, *coverage);
  NativeCall call(rule, events, interner, evidence, coverage, retention_ms);
  if (evidence || coverage) call.Get();
  NativeEnv env = EnvFor(rule, events, retention_ms);
  rule.native[0](&call, now, regs.data(), &env, flags);
  if (coverage) CoverWhens(rule, regs, *coverage);
}

}  // namespace

void Evaluate(const LoadedRule& rule, const PatientEvents& events, int64_t now, const Interner& interner,
              std::vector<Value>& regs, std::vector<std::vector<EventRef>>* evidence, Coverage* coverage,
              int64_t retention_ms, Wanted wanted, bool regs_primed) {
  if (rule.native.empty()) {
    return EvaluateInterpreted(rule, events, now, interner, regs, evidence, coverage, retention_ms, regs_primed);
  }
  // Native code writes the registers someone reads (the `when` conditions, the lets
  // wanted, the runtime's operands) and keeps the others in machine registers: no
  // clearing. It reads each slot's list through the patient's lists and the slot map (the
  // lists keep their spans current): nothing is built per evaluation, and the evaluator
  // is made only if the code calls the runtime (or evidence or coverage is collected).
  if (events.by_signal.data() + rule.lists_needed > events.by_signal.data() + events.by_signal.size()) [[unlikely]] {
    NativeListsMissing(rule, events);
  }
  if (regs.size() < rule.regs0) [[unlikely]] regs.resize(rule.regs0);
  int32_t flags = (coverage ? kNativeCoverage : 0) | (evidence ? kNativeEvidence : 0) |
                  (wanted == Wanted::AllLets ? kNativeLets : 0);
  if (flags) return EvaluateNativeWithFlags(rule, events, now, interner, regs, evidence, coverage, retention_ms, flags);
  NativeCall call(rule, events, interner, evidence, coverage, retention_ms);
  NativeEnv env = EnvFor(rule, events, retention_ms);
  rule.native[0](&call, now, regs.data(), &env, 0);
}

}  // namespace cdr::runtime

extern "C" void cdr_rt_inst(void* ctx, int32_t block, int32_t inst, int64_t now, cdr::runtime::Value* regs,
                            cdr::runtime::Value* out) {
  cdr::runtime::RtInst(ctx, block, inst, now, regs, out);
}

extern "C" void cdr_rt_cover(void* ctx, int32_t table, int32_t row) { cdr::runtime::RtCover(ctx, table, row); }

extern "C" void cdr_rt_agg(void* ctx, int32_t block, int32_t inst, int64_t now, cdr::runtime::Value* out) {
  cdr::runtime::RtAgg(ctx, block, inst, now, out);
}
