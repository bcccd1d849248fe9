// compiler/sema/check_bands.cpp: band tables: rows typed against the banded
// value, and proved total and non-overlapping (lint.h) over its plausible range.
#include "compiler/sema/checker.h"

#include <algorithm>
#include <limits>

#include "compiler/sema/lint.h"

namespace cdr::sema::checker {

// A band bound as a raw decimal in the subject's unit.
std::optional<Decimal> Checker::BandNumber(const ast::PlainValue& v, const Type& subject, const SignalInfo* signal) {
  if (v.kind != ast::PlainValue::Kind::Number) {
    Error<Msg::BandBoundNotNumber>(v.range, v.text, ToString(subject));
    return std::nullopt;
  }
  auto d = Number(v.text, v.range);
  if (!d) return std::nullopt;
  if (v.unit.empty()) return d;  // bare bounds are in the subject's unit
  if (subject.kind != TypeKind::Quantity) {
    Error<Msg::BandBoundUnit>(v.unit_range, ToString(subject), v.unit);
    return std::nullopt;
  }
  auto u = Unit(v.unit, v.unit_range);
  if (!u) return std::nullopt;
  auto converted = ConstantInUnit(*d, *u, subject.unit, signal);  // UCUM, or the signal's `convert`
  if (!converted && !u->CommensurableWith(subject.unit)) {
    Error<Msg::BandBoundDimension>(v.unit_range, subject.unit.text, subject.unit.dim.ToString(), v.unit,
                                   u->dim.ToString());
  }
  return converted;
}

ExprInfo Checker::Bands(const Expr& e, Scope& scope) {
  ExprInfo subject = Check(*e.kids[0], scope);
  std::optional<ExprInfo> result;
  for (const auto& row : e.rows) {
    ExprInfo v = Check(*row.value, scope);
    result = result ? Join(*result, v, *row.value, "band values") : v;
  }
  if (!result) return Err();
  ExprInfo out = *result;
  out.constant.reset();
  out.origin = nullptr;
  out.may_be_unknown = out.may_be_unknown || subject.may_be_unknown;
  out.unshielded_arith = out.unshielded_arith || subject.unshielded_arith;
  if (subject.type.IsError()) return out;
  bool total = subject.type.IsNumeric() || subject.type.kind == TypeKind::Quantity ? NumericBands(e, subject)
                                                                                  : ExactBands(e, subject.type);
  if (!total) out.may_be_unknown = true;
  return out;
}

// Rows over numbers and quantities: each an interval of raw values in the subject's unit,
// proved total and non-overlapping over the subject's plausible range (lint.h). False when
// some value may match no row.
bool Checker::NumericBands(const Expr& e, const ExprInfo& subject) {
  const Type& st = subject.type;
  std::vector<std::optional<BandInterval>> rows;
  std::vector<BandBound> bounds;
  bool ok = true;
  for (const auto& row : e.rows) {
    if (row.kind == ast::BandRow::Kind::Else) {
      rows.push_back(std::nullopt);
      continue;
    }
    auto interval = RowInterval(row, st, subject.origin, bounds);
    if (!interval) ok = false;
    if (interval) rows.push_back(*interval);
  }
  BandConvention(bounds);
  if (!ok) return false;
  int64_t dlo = std::numeric_limits<int64_t>::min(), dhi = std::numeric_limits<int64_t>::max();
  if (subject.origin && subject.origin->plausible_low && subject.origin->plausible_high) {
    dlo = subject.origin->plausible_low->raw();
    dhi = subject.origin->plausible_high->raw();
  }
  return LintNumericBands(e, rows, dlo, dhi, st.kind == TypeKind::Integer ? Decimal::kOne : 1, diags_,
                          [this](diag::Kind k, const SourceRange& r) { return Allowed(k, r); });
}

// A numeric row's closed interval of raw values (nullopt when a bound is in error); its
// bounds (`< v`, `>= v`) are added to `bounds`.
std::optional<BandInterval> Checker::RowInterval(const ast::BandRow& row, const Type& st, const SignalInfo* signal,
                                                 std::vector<BandBound>& bounds) {
  using RK = ast::BandRow::Kind;
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  int64_t step = st.kind == TypeKind::Integer ? Decimal::kOne : 1;
  if (row.kind == RK::Range || row.kind == RK::Exact) {
    auto l = BandNumber(row.low, st, signal);
    auto h = row.kind == RK::Range ? BandNumber(row.high, st, signal) : l;
    if (!l || !h) return std::nullopt;
    if (l->raw() > h->raw()) Error<Msg::BandRowEmpty>(row.range, l->ToString(), h->ToString());
    return BandInterval{l->raw(), h->raw()};
  }
  bool ok = true;
  for (const auto& b : row.bounds) {
    auto v = BandNumber(b.value, st, signal);
    if (!v) {
      ok = false;
      continue;
    }
    if (b.op == O::Less) hi = std::min(hi, v->raw() - step);
    if (b.op == O::LessEqual) hi = std::min(hi, v->raw());
    if (b.op == O::Greater) lo = std::max(lo, v->raw() + step);
    if (b.op == O::GreaterEqual) lo = std::max(lo, v->raw());
    bounds.push_back(BandBound{&row, v->raw(), b.op, v->ToShortString()});
  }
  if (!ok) return std::nullopt;
  return BandInterval{lo, hi};
}

// Where two rows meet at a value: `<= a` with `> a` puts the boundary value in the band
// below, `< b` with `>= b` in the band above. A table that does both is reported
// (docs/rules.md: one convention per table).
void Checker::BandConvention(const std::vector<BandBound>& bounds) {
  const BandBound *below = nullptr, *above = nullptr;  // the row opening the band above each kind of meeting
  for (const BandBound& up : bounds) {
    for (const BandBound& low : bounds) {
      if (up.raw != low.raw || up.row == low.row) continue;
      if (up.op == O::LessEqual && low.op == O::Greater && !below) below = &low;
      if (up.op == O::Less && low.op == O::GreaterEqual && !above) above = &low;
    }
  }
  if (!below || !above) return;
  const BandBound* later = below->row > above->row ? below : above;  // rows are one vector: source order
  Error<Msg::BandConvention>(later->row->range, "`" + below->text + "` (`> " + below->text + "`)",
                             "`" + above->text + "` (`>= " + above->text + "`)");
}

// Rows over enums, texts and booleans: exact values only, each once; every member (or
// both booleans) covered, or an `else`. False when some value may match no row.
bool Checker::ExactBands(const Expr& e, const Type& st) {
  std::map<std::string, size_t> covered;  // value -> first row
  bool has_else = false;
  for (size_t i = 0; i < e.rows.size(); ++i) {
    const auto& row = e.rows[i];
    if (row.kind == ast::BandRow::Kind::Else) {
      has_else = true;
      continue;
    }
    if (row.kind != ast::BandRow::Kind::Exact) {
      Error<Msg::BandRangeNotNumeric>(row.range, ToString(st));
      continue;
    }
    const auto& v = row.low;
    bool fits = (st.kind == TypeKind::Boolean && v.kind == ast::PlainValue::Kind::Bool) ||
                ((st.kind == TypeKind::Enum || st.kind == TypeKind::Text || st.kind == TypeKind::Code) &&
                 v.kind == ast::PlainValue::Kind::Text);
    if (!fits) {
      Error<Msg::BandValueMismatch>(v.range, v.text, ToString(st));
      continue;
    }
    if (st.kind == TypeKind::Enum) EnumMember(v.text, v.range, st);
    if (auto [it, fresh] = covered.emplace(v.text, i); !fresh) {
      Error<Msg::BandOverlap>(row.range, i + 1, it->second + 1, "`" + v.text + "`");
    }
  }
  if (has_else) return true;
  std::vector<std::string> missing;
  if (st.kind == TypeKind::Enum) {
    for (const auto& m : st.members) {
      if (!covered.count(m)) missing.push_back("'" + m + "'");
    }
  } else if (st.kind == TypeKind::Boolean) {
    for (const char* m : {"true", "false"}) {
      if (!covered.count(m)) missing.push_back(m);
    }
  } else {
    missing.push_back("values not listed (add an `else` row)");
  }
  if (missing.empty()) return true;
  std::string list = missing[0];
  for (size_t i = 1; i < missing.size(); ++i) list += ", " + missing[i];
  Error<Msg::BandGap>(e.range, list);
  return false;
}

}  // namespace cdr::sema::checker
