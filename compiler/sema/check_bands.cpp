// compiler/sema/check_bands.cpp: band tables: rows typed against the banded
// value, and proved total and non-overlapping (lint.h) over its plausible range.
#include "compiler/sema/checker.h"

#include <algorithm>
#include <limits>

#include "compiler/sema/lint.h"

namespace cdr::sema::checker {

// A band bound as a raw decimal in the subject's unit.
std::optional<Decimal> Checker::BandNumber(const ast::PlainValue& v, const Type& subject) {
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
  if (!u->CommensurableWith(subject.unit)) {
    Error<Msg::BandBoundDimension>(v.unit_range, subject.unit.text, subject.unit.dim.ToString(), v.unit,
                                   u->dim.ToString());
    return std::nullopt;
  }
  return stdlib::Convert(*d, *u, subject.unit);
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
  const Type& st = subject.type;
  if (st.IsNumeric() || st.kind == TypeKind::Quantity) {
    std::vector<std::optional<BandInterval>> rows;
    bool ok = true;
    // The comparisons of the rows, to find where two rows meet at a value: `<= a` with
    // `> a` puts a boundary value in the band below, `< a` with `>= a` in the band above
    // (docs/rules.md: one convention per table).
    struct Bound {
      const ast::BandRow* row;
      int64_t raw;
      ast::Operator op;
      std::string text;
    };
    std::vector<Bound> bounds;
    for (const auto& row : e.rows) {
      using RK = ast::BandRow::Kind;
      if (row.kind == RK::Else) {
        rows.push_back(std::nullopt);
        continue;
      }
      int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
      int64_t step = st.kind == TypeKind::Integer ? Decimal::kOne : 1;
      if (row.kind == RK::Range || row.kind == RK::Exact) {
        auto l = BandNumber(row.low, st);
        auto h = row.kind == RK::Range ? BandNumber(row.high, st) : l;
        if (!l || !h) {
          ok = false;
          continue;
        }
        lo = l->raw();
        hi = h->raw();
        if (lo > hi) {
          Error<Msg::BandRowEmpty>(row.range, l->ToString(), h->ToString());
        }
      } else {
        for (const auto& b : row.bounds) {
          auto v = BandNumber(b.value, st);
          if (!v) {
            ok = false;
            continue;
          }
          if (b.op == O::Less) hi = std::min(hi, v->raw() - step);
          if (b.op == O::LessEqual) hi = std::min(hi, v->raw());
          if (b.op == O::Greater) lo = std::max(lo, v->raw() + step);
          if (b.op == O::GreaterEqual) lo = std::max(lo, v->raw());
          bounds.push_back(Bound{&row, v->raw(), b.op, v->ToShortString()});
        }
      }
      rows.push_back(BandInterval{lo, hi});
    }
    const Bound *below = nullptr, *above = nullptr;  // the row opening the band above each kind of meeting
    for (const Bound& up : bounds) {
      for (const Bound& low : bounds) {
        if (up.raw != low.raw || up.row == low.row) continue;
        if (up.op == O::LessEqual && low.op == O::Greater && !below) below = &low;
        if (up.op == O::Less && low.op == O::GreaterEqual && !above) above = &low;
      }
    }
    if (below && above) {
      const Bound* later = below->row > above->row ? below : above;  // rows are one vector: source order
      Error<Msg::BandConvention>(later->row->range, "`" + below->text + "` (`> " + below->text + "`)",
                                 "`" + above->text + "` (`>= " + above->text + "`)");
    }
    if (ok) {
      int64_t dlo = std::numeric_limits<int64_t>::min(), dhi = std::numeric_limits<int64_t>::max();
      if (subject.origin && subject.origin->plausible_low && subject.origin->plausible_high) {
        dlo = subject.origin->plausible_low->raw();
        dhi = subject.origin->plausible_high->raw();
      }
      bool total = LintNumericBands(e, rows, dlo, dhi, st.kind == TypeKind::Integer ? Decimal::kOne : 1, diags_);
      if (!total) out.may_be_unknown = true;
    } else {
      out.may_be_unknown = true;
    }
    return out;
  }
  // Enum, text and boolean subjects: exact rows only.
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
  if (!has_else) {
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
    if (!missing.empty()) {
      std::string list = missing[0];
      for (size_t i = 1; i < missing.size(); ++i) list += ", " + missing[i];
      Error<Msg::BandGap>(e.range, list);
      out.may_be_unknown = true;
    }
  }
  return out;
}

}  // namespace cdr::sema::checker
