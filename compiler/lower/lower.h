// compiler/lower/lower.h: checked AST -> IR.
#pragma once

#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/ir/ir.h"
#include "compiler/sema/types.h"

namespace cdr::ir {

/// Lowers every rule of `files` (which must have checked without errors) and the signals
/// of every schema. Unit conversions become explicit; constants are converted at compile
/// time. Reports (as `unsupported`) what the IR cannot express; never throws.
Module Lower(const std::vector<const ast::File*>& files, const sema::Model& model, diag::DiagnosticEngine& diags);

}  // namespace cdr::ir
