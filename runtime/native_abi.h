// runtime/native_abi.h: the contract between native code (compiler/jit) and the
// runtime, in one place: the register value, what an evaluation passes native code,
// the flags of a call, the signature of a compiled block, and the runtime's C entry
// points that native code calls. The layouts native code reads (StoredEvent, EventSpan at
// the start of an EventList) are in runtime/event.h and checked by static_asserts in
// runtime/interpreter.cpp.
#pragma once

#include <cstdint>

#include "runtime/event.h"

namespace cdr::runtime {

/// A value in a register: `known` false is unknown (CQL null).
struct Value {
  int64_t v = 0;
  bool known = false;
};

/// What native code reads of one evaluation besides its registers.
struct NativeEnv {
  const int64_t* texts;     // the rule's text constants as interned ids (LoadedRule::text_ids)
  const EventList* lists;   // the patient's event lists (PatientEvents::by_signal)
  const int32_t* slot_list; // per signal slot of the rule: its list (LoadedRule::slot_signal)
  int64_t retention_ms;     // the reach of a lookback without a window
};

/// Flags of a native call.
enum NativeFlags : int32_t {
  kNativeCoverage = 1,  // record band-row coverage (cdr_rt_cover)
  kNativeEvidence = 2,  // evidence is being collected: aggregates go through cdr_rt_inst
  kNativeLets = 4,      // every let is wanted in `regs` (without flags: only the `when`
                        // conditions and the lets other rules read as derived signals)
};

/// Native code for one block of a rule (the JIT, compiler/jit). It computes every
/// instruction of the block into `regs`, exactly as the interpreter would, calling the
/// runtime through the C functions below for what it does not compute inline.
///   ctx:   the evaluation (opaque; pass it back to the runtime)
///   now:   the evaluation time, ms
///   regs:  the block's registers, one Value per instruction
///   env:   texts, the events of each slot, the retention
///   flags: NativeFlags
using NativeBlock = void (*)(void* ctx, int64_t now, Value* regs, const NativeEnv* env, int32_t flags);

}  // namespace cdr::runtime

// The runtime's side of the native ABI (docs/architecture.md), called by JIT code.
extern "C" {
/// Computes instruction `inst` of block `block` into `*out` with the reference
/// semantics: window access (aggregates, latest, absence, sequence, sustained, with
/// evidence recording) and the operations native code leaves to the runtime (128-bit
/// decimal products and quotients, unit conversions, rounding, logarithms, texts).
void cdr_rt_inst(void* ctx, int32_t block, int32_t inst, int64_t now, cdr::runtime::Value* regs,
                 cdr::runtime::Value* out);
/// Records that row `row` of band table `table` matched (coverage for `cdr test`).
void cdr_rt_cover(void* ctx, int32_t table, int32_t row);
/// Computes aggregate `inst` of block `block` (an `agg` instruction) into `*out`, without
/// evidence, with the interpreter's code: O(log n) over the slot's list with its window
/// index (runtime/window.h), and without making an evaluator.
void cdr_rt_agg(void* ctx, int32_t block, int32_t inst, int64_t now, cdr::runtime::Value* out);
}
