// compiler/format/format.h: the canonical formatter (`cdr fmt`).
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace cdr::format {

/// Prints a cleanly parsed file in canonical form, keeping every comment.
/// `source` is the original text (used to keep single blank lines between items).
/// Formatting is idempotent and preserves the AST (ranges aside).
std::string Format(const ast::File& file, const std::string& source);

/// One rule in canonical form without comments: the text its content hash is taken of,
/// so reformatting a rule or editing its comments does not change its hash.
std::string FormatRule(const ast::Rule& rule);

}  // namespace cdr::format
