// compiler/format/format.h: the canonical formatter (`cdr fmt`).
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace cdr::format {

/// Prints a cleanly parsed file in canonical form, keeping every comment.
/// `source` is the original text (used to keep single blank lines between items).
/// Formatting is idempotent and preserves the AST (ranges aside).
std::string Format(const ast::File& file, const std::string& source);

/// One rule in canonical form without comments and without its `status`: the text its
/// content hash is taken of, so reformatting a rule, editing its comments or moving it
/// through its lifecycle (draft, review, approved, retired) does not change its hash, and
/// an approval of that hash survives the step to `status approved` (docs/governance.md).
/// A band row's condition as `cdr fmt` writes it (`> 8 and <= 11`, `else`).
std::string FormatBandCondition(const ast::BandRow& row);

/// `with_status`: the text with its `status` (as a reviewer reads it: `cdr diff`).
std::string FormatRule(const ast::Rule& rule, bool with_status = false);

}  // namespace cdr::format
