// compiler/driver/schema_diff.h: what changes between two versions of the schemas, and
// which changes break the rules that read them (`cdr schema diff`, hot reload).
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/ir.h"

namespace cdr::driver {

struct SchemaChange {
  /// A rule of the old set reads the signal and the change takes events or values from
  /// it, or changes what its numbers mean (the signal or a code removed, another type or
  /// unit, a narrower plausible range, an enum member or a `convert` unit removed).
  bool breaking = false;
  std::string signal;  // `schema.signal`
  std::string what;    // the change, and for a breaking one the rules that read the signal
};

/// The changes of the schema signals from `before` to `after`, in the order of `before`'s
/// signals (by schema, then name), then the signals added. Rules are those of `before`
/// (the running ones).
std::vector<SchemaChange> DiffSchemas(const ir::Module& before, const ir::Module& after);

}  // namespace cdr::driver
