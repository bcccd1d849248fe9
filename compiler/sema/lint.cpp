// compiler/sema/lint.cpp: totality and overlap of band tables, decimal gaps included.
#include "compiler/sema/lint.h"

#include <algorithm>
#include <limits>

#include "stdlib/decimal.h"

namespace cdr::sema {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string Show(int64_t raw) { return stdlib::Decimal::FromRaw(raw).ToShortString(); }

// A gap [a, b] (closed, in raw steps) shown as an interval of values: its ends are
// open where a neighbouring row ends, closed where the domain ends.
std::string ShowGap(int64_t a, int64_t b, int64_t lo, int64_t hi, int64_t step) {
  std::string left = a == lo ? (lo == kMin ? "(-inf" : "[" + Show(a)) : "(" + Show(a - step);
  std::string right = b == hi ? (hi == kMax ? "+inf)" : Show(b) + "]") : Show(b + step) + ")";
  return "`" + left + ", " + right + "`";
}

}  // namespace

bool LintNumericBands(const ast::Expr& bands, const std::vector<std::optional<BandInterval>>& rows,
                      int64_t domain_low, int64_t domain_high, int64_t step, diag::DiagnosticEngine& diags,
                      const std::function<bool(diag::Kind, const source::SourceRange&)>& allowed) {
  auto silenced = [&](diag::Kind k, const source::SourceRange& r) { return allowed && allowed(k, r); };
  struct Row {
    BandInterval iv;
    size_t index;
  };
  std::vector<Row> sorted;
  bool has_else = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i]) {
      has_else = true;
      continue;
    }
    if (rows[i]->low > rows[i]->high) continue;  // empty row: the checker reported it
    sorted.push_back(Row{*rows[i], i});
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const Row& a, const Row& b) { return a.iv.low < b.iv.low; });
  // Overlaps: each row against the furthest reach so far.
  int64_t reach = kMin;
  size_t reach_row = 0;
  bool first = true;
  for (const Row& r : sorted) {
    if (!first && r.iv.low <= reach) {
      // Report once, at the later row in source order.
      size_t a = std::min(r.index, reach_row), b = std::max(r.index, reach_row);
      if (!silenced(diag::Kind::BandOverlap, bands.rows[b].range)) {
        diags.Emit<diag::Msg::BandOverlap>(bands.rows[b].range, b + 1, a + 1, "`" + Show(r.iv.low) + "`");
      }
    }
    if (first || r.iv.high > reach) {
      reach = r.iv.high;
      reach_row = r.index;
    }
    first = false;
  }
  if (has_else) return true;
  // Gaps over the domain.
  bool total = true;
  int64_t covered_to = domain_low;  // first value not yet covered
  bool done = false;
  auto gap = [&](int64_t a, int64_t b) {
    total = false;
    if (!silenced(diag::Kind::BandGap, bands.range)) {
      diags.Emit<diag::Msg::BandGap>(bands.range, ShowGap(a, b, domain_low, domain_high, step));
    }
  };
  for (const Row& r : sorted) {
    if (done) break;
    if (r.iv.high < covered_to) continue;
    if (r.iv.low > covered_to) {
      int64_t gap_end = std::min(r.iv.low - step, domain_high);
      if (covered_to <= domain_high) gap(covered_to, gap_end);
    }
    if (r.iv.high >= domain_high || r.iv.high > kMax - step) {
      done = true;
      break;
    }
    covered_to = std::max(covered_to, r.iv.high + step);
  }
  if (!done && covered_to <= domain_high) gap(covered_to, domain_high);
  return total;
}

}  // namespace cdr::sema
