// compiler/driver/backend.h: `--engine interp|jit|adaptive` and `--opt 0|2` for the
// commands that run rules: sets up the engine's native code (docs/architecture.md).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compiler/ir/ir.h"
#include "compiler/jit/jit.h"
#include "runtime/engine.h"

namespace cdr::driver {

/// The native code of a run: compiled before it (jit) or beside it (adaptive).
class Backend {
 public:
  ~Backend();
  /// Prepares `options` for `engine` ("interp", "jit" or "adaptive"). With "jit" the rules
  /// are compiled now: an error (a construct the JIT cannot compile) is returned and
  /// nothing runs. With "adaptive" they are compiled on a background thread, and the
  /// engine switches to native code between two events once it is ready; if compiling
  /// fails the interpreter goes on, and `note()` says why.
  std::optional<std::string> Prepare(const std::string& engine, int opt, const ir::Module& module,
                                     runtime::EngineOptions& options);
  /// Waits for a background compile to end.
  void Join();
  /// One line on what ran, for the run's summary.
  std::string Describe(bool native, uint64_t native_from_event) const;

 private:
  struct Shared {
    std::atomic<bool> ready{false};
    std::vector<std::vector<runtime::NativeBlock>> code;
    std::optional<std::string> error;
    jit::CompileStats stats;
  };
  std::string engine_ = "interp";
  int opt_ = 2;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace cdr::driver
