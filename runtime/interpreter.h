// runtime/interpreter.h: the reference interpreter over the IR.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/event.h"

namespace cdr::runtime {

/// A value in a register: `known` false is unknown (CQL null).
struct Value {
  int64_t v = 0;
  bool known = false;
};

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
  std::vector<int32_t> site_of;      // block-0 instruction -> evidence site, or -1
};

/// `store_of` maps a module signal to its list in PatientEvents::by_signal (the engine
/// keeps only the signals some rule reads).
LoadedRule Load(const ir::Module& module, const ir::Rule& rule, Interner& interner, const std::vector<int32_t>& store_of);

/// Evaluates a rule at `now` over a patient's events (those with time <= now).
/// `regs` receives the values of block 0. `evidence`, when given, receives the events
/// each evidence site used; `coverage`, when given, is updated. Lookbacks without a
/// window bound (an aggregate without `within`, a sequence, a latest value) reach back
/// `retention_ms`, the history the engine keeps, so results never depend on eviction.
void Evaluate(const LoadedRule& rule, const PatientEvents& events, int64_t now, const Interner& interner,
              std::vector<Value>& regs, std::vector<std::vector<EventRef>>* evidence, Coverage* coverage,
              int64_t retention_ms);

}  // namespace cdr::runtime
