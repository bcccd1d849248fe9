// compiler/sema/lint.h: lint checks that need the checker's results.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/sema/types.h"

namespace cdr::sema {

/// One band row's condition as a closed range of raw decimal steps (see Decimal::raw).
struct BandInterval {
  int64_t low;
  int64_t high;
};

/// Checks a numeric bands table for overlaps and for gaps within [domain_low, domain_high]
/// (the signal's plausible range, or unbounded). `step` is 1 raw unit for decimals and
/// quantities and Decimal::kOne for integers. Rows that are `else` are passed as nullopt.
/// Returns true when the table is total over the domain. A finding for which `allowed`
/// returns true (an `allow` of the rule) is not reported.
bool LintNumericBands(const ast::Expr& bands, const std::vector<std::optional<BandInterval>>& rows,
                      int64_t domain_low, int64_t domain_high, int64_t step, diag::DiagnosticEngine& diags,
                      const std::function<bool(diag::Kind, const source::SourceRange&)>& allowed = {});

}  // namespace cdr::sema
