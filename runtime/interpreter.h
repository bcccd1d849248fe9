// runtime/interpreter.h: the reference interpreter over the IR.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/event.h"
#include "runtime/native_abi.h"

namespace cdr::runtime {

/// The events an aggregate used, by evidence site (ir::Rule::evidence order).
struct EventRef {
  int32_t signal;  // index into PatientEvents::by_signal
  const StoredEvent* event;
};

/// Which band rows and `when` clauses an evaluation exercised (for `cdr test` coverage).
struct Coverage {
  std::vector<std::vector<bool>> band_rows;  // per band table
  std::vector<bool> whens;
};

/// Texts shared by the rules and the events (enum members, codes): interned to ids.
class Interner {
 public:
  int64_t Intern(const std::string& s);
  const std::string& Text(int64_t id) const { return texts_.at(static_cast<size_t>(id)); }
  /// Every text, by id (a checkpoint: interning them again in this order gives each its id).
  const std::vector<std::string>& texts() const { return texts_; }

 private:
  std::vector<std::string> texts_;
  std::vector<std::pair<std::string, int64_t>> sorted_;  // sorted by text, for lookup
};

/// A rule ready to run: its IR and its text constants mapped to interned ids.
struct LoadedRule {
  const ir::Rule* ir = nullptr;
  std::vector<int64_t> text_ids;
  std::vector<int32_t> slot_signal;  // slot -> index into PatientEvents::by_signal
  std::vector<bool> slot_int;        // the signal holds integers (not raw decimals)
  std::vector<uint8_t> slot_needs;   // slot -> what its list's window index keeps (runtime/window.h)
  std::vector<int32_t> site_of;      // block-0 instruction -> evidence site, or -1
  std::vector<NativeBlock> native;   // per block; empty: the interpreter runs the rule
  // For the interpreter, per block: the registers with every constant in place (unknown
  // elsewhere), and the instructions left to compute, in order, as steps.
  std::vector<std::vector<Value>> initial_regs;
  // Per computed instruction, what the interpreter's loops read, in one record: how the
  // common loop runs it (an operation done inline, its kinds resolved here, once, or the
  // general path: runtime/interpreter.cpp), its register and operands (a missing operand
  // reads register 0, unused), its immediate and aux.
  struct Step {
    uint8_t fast = 0;
    int32_t i = 0, a = 0, b = 0, c = 0, aux = 0;
    int64_t imm = 0;
  };
  std::vector<std::vector<Step>> steps;
  size_t lists_needed = 0;           // 1 + the largest list a slot reads
  size_t regs0 = 0;                  // registers of block 0
};

/// What the evaluations of `C for D` learned of C for one patient, so that a `for` over a
/// long window costs O(log n) per evaluation point, not an evaluation of C at each change
/// instant of its window. C changes only at its change instants (an event entering or
/// leaving a window it reads), and its value at an instant depends only on the events
/// before or at it. Per `for` (rule, block, instruction), an entry knows every change
/// instant in a span (lo, hi] and keeps, in order, those where C did not hold; `C for D`
/// at t is then C at t - D and no such instant in (t - D, t]: a binary search, and the
/// instants the span gains when t moves forward, each evaluated once. A `for` whose window
/// holds few instants (kScanLimit, runtime/window.h) is evaluated without an entry.
/// The owner must report each change of a list a rule reads (Changed): what was learned
/// at or after its time is forgotten.
class SustainedMemo {
 public:
  struct Entry {
    const ir::Rule* rule = nullptr;
    int32_t block = 0, inst = 0;
    int64_t lo = 0, hi = 0;  // every change instant in (lo, hi] is known; none when hi <= lo
    // The instants in (lo, hi] where C did not hold (false or unknown), ascending, from
    // `head` on (those before it are dropped, reclaimed when they are the larger part).
    std::vector<int64_t> not_held;
    size_t head = 0;
  };

  /// A list `rule` reads changed at `time` (an event inserted, removed or given a new value).
  void Changed(const ir::Rule* rule, int64_t time);
  Entry* Find(const ir::Rule* rule, int32_t block, int32_t inst);
  Entry& Add(const ir::Rule* rule, int32_t block, int32_t inst);
  /// The memory it holds.
  size_t bytes() const {
    size_t b = sizeof(*this) + entries_.capacity() * sizeof(entries_[0]);
    for (const auto& e : entries_) b += sizeof(Entry) + e->not_held.capacity() * sizeof(int64_t);
    return b;
  }

 private:
  std::vector<std::unique_ptr<Entry>> entries_;  // few; stable while a nested `for` adds one
};

/// `store_of` maps a module signal to its list in PatientEvents::by_signal (the engine
/// keeps only the signals some rule reads). `list_needs`: what each list's window index
/// keeps, `WindowNeeds(module, store_of)` (runtime/window.h), computed once per module;
/// empty: no list has an index (every window is scanned).
LoadedRule Load(const ir::Module& module, const ir::Rule& rule, Interner& interner, const std::vector<int32_t>& store_of,
                const std::vector<uint8_t>& list_needs = {});

/// What an evaluation must leave in `regs` besides the `when` conditions.
enum class Wanted {
  Whens,    // the lets other rules read (derived signals); the engine's common call
  AllLets,  // every let (alerts, the trace, `cdr eval`)
};

/// Evaluates a rule at `now` over a patient's events (those with time <= now).
/// `regs` receives the values of block 0: with native code, only the `when` conditions
/// and the lets `wanted` (all of them when evidence or coverage is collected) are
/// meaningful; the others are never written to memory. `evidence`, when given, receives
/// the events each evidence site used; `coverage`, when given, is updated. Lookbacks
/// without a window bound (an aggregate without `within`, a sequence, a latest value)
/// reach back `retention_ms`, the history the engine keeps, so results never depend on
/// eviction. `regs_primed`: `regs` belongs to this rule and was filled by an evaluation of
/// it since (its constant registers still hold their values): the interpreter then writes
/// only the registers it computes instead of copying the whole initial file first.
void Evaluate(const LoadedRule& rule, const PatientEvents& events, int64_t now, const Interner& interner,
              std::vector<Value>& regs, std::vector<std::vector<EventRef>>* evidence, Coverage* coverage,
              int64_t retention_ms, Wanted wanted, bool regs_primed = false);

void RtInst(void* ctx, int32_t block, int32_t inst, int64_t now, Value* regs, Value* out);
void RtAgg(void* ctx, int32_t block, int32_t inst, int64_t now, Value* out);

/// An aggregate over the events of `list` with time in (now - window, now], as the `agg`
/// instruction computes it without evidence: in O(log n) when the list has the window
/// index (runtime/window.h) keeping `needs` (0: none), by scanning the window otherwise;
/// the same value either way. `int_signal`: the list holds integers; `result_kind`: the
/// instruction's.
Value WindowAggregate(const EventList& list, int64_t now, int64_t window, ir::AggKind kind, bool int_signal,
                      ir::Kind result_kind, uint8_t needs);
void RtCover(void* ctx, int32_t table, int32_t row);

}  // namespace cdr::runtime

