// compiler/format/format.h: the canonical formatter (`cdr fmt`).
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace cdr::format {

/// `cdr fmt`'s line width in columns (code points). A construct that would pass it breaks
/// (docs/language.md, "Layout"); text that cannot break (a string, a comment) may pass it.
inline constexpr int kLineWidth = 100;

/// Prints a cleanly parsed file in canonical form, keeping every comment.
/// `source` is the original text (used to keep single blank lines between items).
/// Formatting is idempotent and preserves the AST (ranges aside).
std::string Format(const ast::File& file, const std::string& source);

/// A band row's condition as `cdr fmt` writes it (`> 8 and <= 11`, `else`).
std::string FormatBandCondition(const ast::BandRow& row);

/// One rule in canonical form without comments and without its `status`: the text its
/// content hash is taken of. Its lines have no width (only else-if chains and bands
/// break), so the hash depends neither on `cdr fmt`'s width nor on reformatting; nor on
/// comments, nor on the rule's lifecycle (draft, review, approved, retired), so an
/// approval of that hash survives the step to `status approved` (docs/governance.md).
/// `with_status`: the text with its `status`; `width` kLineWidth: laid out as `cdr fmt` does
/// (both as a reviewer reads it in `cdr diff`).
std::string FormatRule(const ast::Rule& rule, bool with_status = false, int width = 0);

}  // namespace cdr::format
