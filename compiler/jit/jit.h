// compiler/jit/jit.h: the native back end. Lowers a rule's verified IR to LLVM IR and
// compiles it with ORC LLJIT; the only folder that includes LLVM headers. The code it
// makes computes exactly what the interpreter computes (runtime/interpreter.h,
// NativeBlock): simple operations inline, window access and the rarer operations through
// the runtime's C ABI (cdr_rt_inst, cdr_rt_cover). docs/architecture.md describes the ABI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/native_abi.h"

namespace cdr::jit {

struct CompileStats {
  int rules = 0;
  int cached = 0;     // found in the cache (same IR and optimisation level): no work
  double millis = 0;  // wall time of this call
};

/// Compiles every block of `rule` at LLVM optimisation level `opt` (0 or 2) and returns
/// one function per block, or the reason it cannot (a construct the back end does not
/// compile; nothing falls back silently). Code is cached within the process by a hash of
/// the rule's IR and `opt`, so an unchanged rule costs nothing the second time.
/// Thread-safe: the adaptive engine compiles on a background thread.
/// `use_cache` false compiles anew (benchmarks of compile time).
std::optional<std::string> Compile(const ir::Rule& rule, int opt, std::vector<runtime::NativeBlock>& out,
                                   CompileStats* stats = nullptr, bool use_cache = true);

/// Compiles every rule of `module`: per rule, per block. Empty and an error text when one
/// rule cannot be compiled.
std::optional<std::string> CompileModule(const ir::Module& module, int opt,
                                         std::vector<std::vector<runtime::NativeBlock>>& out,
                                         CompileStats* stats = nullptr, bool use_cache = true);

}  // namespace cdr::jit
