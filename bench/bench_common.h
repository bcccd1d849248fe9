// bench/bench_common.h: what the benchmarks share: the shipped rule set, compiled once per
// process.
#pragma once

#include <string>

#include "compiler/driver/frontend.h"

namespace cdr::bench {

inline const driver::Frontend& ShippedRules() {
  static driver::Frontend* fe = [] {
    auto* f = new driver::Frontend();
    std::string error;
    f->Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error);
    return f;
  }();
  return *fe;
}

}  // namespace cdr::bench
