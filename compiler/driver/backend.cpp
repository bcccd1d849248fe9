// compiler/driver/backend.cpp
#include "compiler/driver/backend.h"

#include <fmt/format.h>

namespace cdr::driver {

Backend::~Backend() { Join(); }

void Backend::Join() {
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> Backend::Prepare(const std::string& engine, int opt, const ir::Module& module,
                                            runtime::EngineOptions& options) {
  engine_ = engine;
  opt_ = opt;
  shared_ = std::make_shared<Shared>();
  if (engine == "interp") return std::nullopt;
  if (engine == "jit") {
    if (auto err = jit::CompileModule(module, opt, options.native, &shared_->stats)) return err;
    return std::nullopt;
  }
  // adaptive: the interpreter serves from the first event; the JIT compiles beside it.
  auto shared = shared_;
  thread_ = std::thread([shared, &module, opt] {
    std::vector<std::vector<runtime::NativeBlock>> code;
    shared->error = jit::CompileModule(module, opt, code, &shared->stats);
    if (!shared->error) shared->code = std::move(code);
    shared->ready.store(true, std::memory_order_release);
  });
  options.take_native = [shared](std::vector<std::vector<runtime::NativeBlock>>& out) {
    if (!shared->ready.load(std::memory_order_acquire) || shared->error) return false;
    out = shared->code;
    return true;
  };
  return std::nullopt;
}

std::string Backend::Describe(bool native, uint64_t native_from_event) const {
  if (engine_ == "interp") return "engine: interp";
  std::string compiled =
      fmt::format("{} rules compiled at -O{} in {:.1f} ms{}", shared_->stats.rules, opt_, shared_->stats.millis,
                  shared_->stats.cached ? fmt::format(" ({} from the cache)", shared_->stats.cached) : "");
  if (engine_ == "jit") return "engine: jit; " + compiled;
  if (!shared_->ready.load(std::memory_order_acquire))
    return "engine: adaptive; the interpreter ran every event (the JIT had not finished)";
  if (shared_->error) return "engine: adaptive; the interpreter ran every event: " + *shared_->error;
  if (!native) return "engine: adaptive; the interpreter ran every event (native code was ready after the last)";
  return fmt::format("engine: adaptive; native code from event {}; {}", native_from_event + 1, compiled);
}

}  // namespace cdr::driver
