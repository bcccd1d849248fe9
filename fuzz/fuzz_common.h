// fuzz/fuzz_common.h: shared setup for the libFuzzer targets: the shipped rule set,
// compiled once per process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "compiler/driver/frontend.h"

namespace cdr::fuzz {

inline const driver::Frontend& ShippedRules() {
  static driver::Frontend* fe = [] {
    auto* f = new driver::Frontend();
    std::string error;
    if (!f->Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error) || f->diags.error_count() > 0) {
      std::fprintf(stderr, "fuzz: the shipped rules do not compile\n");
      std::abort();
    }
    return f;
  }();
  return *fe;
}

/// A finding: print why and abort, so libFuzzer saves the input.
[[noreturn]] inline void Fail(const char* why) {
  std::fprintf(stderr, "fuzz: %s\n", why);
  std::abort();
}

}  // namespace cdr::fuzz
