// compiler/sema/check.h: names, types, units and lint over a set of parsed files.
#pragma once

#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/types.h"

namespace cdr::sema {

/// Checks every schema, rule set, rule and test of `files` together (rules see the
/// schemas of every file). Reports errors and lint warnings; never stops at the first.
Model Check(const std::vector<const ast::File*>& files, diag::DiagnosticEngine& diags);

}  // namespace cdr::sema
