// stdlib/decimal_math.cpp: correctly rounded power, logarithms and exponential of decimals
// (stdlib/decimal_math.h).
//
// A decimal is raw / 10^8. For an operation f, the exact result f(x) is enclosed in an
// interval [lo, hi] with MPFR's directed rounding (each MPFR operation is correctly
// rounded in the direction asked, so the bounds are rigorous: the inputs themselves,
// raw / 10^8, are enclosed first, and f is monotone in each argument on the intervals
// used). Scaled by 10^8 and rounded half away from zero, both bounds give the same
// integer when the rounding is decided; otherwise the precision doubles. Only a result
// exactly at a halfway point never decides, and those arise only from whole exponents up
// to 9, which are computed exactly with integers instead (up to 64, for speed as well).
#include "stdlib/decimal_math.h"

#include <gmp.h>
#include <mpfr.h>

#include <cstdlib>
#include <utility>

namespace cdr::stdlib {
namespace {

constexpr unsigned long kScale = 100000000;  // 10^8
constexpr long kFirstPrecisionBits = 128;
constexpr int64_t kMaxExactExponent = 64;

// An MPFR number of a given precision, freed on scope exit.
class Real {
 public:
  explicit Real(mpfr_prec_t bits) { mpfr_init2(v_, bits); }
  ~Real() { mpfr_clear(v_); }
  Real(const Real&) = delete;
  Real& operator=(const Real&) = delete;
  mpfr_ptr get() { return v_; }
  operator mpfr_ptr() { return v_; }

 private:
  mpfr_t v_;
};

// A GMP integer, freed on scope exit.
class Integer {
 public:
  Integer() { mpz_init(v_); }
  ~Integer() { mpz_clear(v_); }
  Integer(const Integer&) = delete;
  Integer& operator=(const Integer&) = delete;
  mpz_ptr get() { return v_; }
  operator mpz_ptr() { return v_; }

 private:
  mpz_t v_;
};

// Encloses raw / 10^8 in [lo, hi].
void Enclose(int64_t raw, mpfr_ptr lo, mpfr_ptr hi) {
  mpfr_set_si(lo, raw, MPFR_RNDN);  // exact: 64 bits fit the precisions used
  mpfr_div_ui(lo, lo, kScale, MPFR_RNDD);
  mpfr_set_si(hi, raw, MPFR_RNDN);
  mpfr_div_ui(hi, hi, kScale, MPFR_RNDU);
}

// A bound of round_half_away(s * 10^8) for a bound s of the result: `upper` picks the
// direction of every rounding so that the bound stays on its side.
void RoundedBound(mpfr_ptr s, bool upper, mpfr_ptr out) {
  mpfr_mul_ui(out, s, kScale, upper ? MPFR_RNDU : MPFR_RNDD);
  if (mpfr_sgn(out) >= 0) {
    mpfr_add_d(out, out, 0.5, upper ? MPFR_RNDU : MPFR_RNDD);
    mpfr_floor(out, out);
  } else {
    // -floor(-s + 0.5): a lower bound needs the upper bound of -s + 0.5, and back.
    mpfr_neg(out, out, MPFR_RNDN);
    mpfr_add_d(out, out, 0.5, upper ? MPFR_RNDD : MPFR_RNDU);
    mpfr_floor(out, out);
    mpfr_neg(out, out, MPFR_RNDN);
  }
}

enum class Outcome { Decided, Undecided, OutOfRange };

// Rounds the result enclosed in [lo, hi] to a raw decimal, if the enclosure decides it.
Outcome Decide(mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits, int64_t& raw) {
  if (!mpfr_number_p(lo) || !mpfr_number_p(hi)) return Outcome::OutOfRange;  // an overflow
  Real rlo(bits + 64), rhi(bits + 64);
  RoundedBound(lo, false, rlo);
  RoundedBound(hi, true, rhi);
  // Out of the range of a raw decimal on either side: unknown, at any precision.
  if (mpfr_cmp_si(rlo, INT64_MAX) > 0 || mpfr_cmp_si(rhi, INT64_MIN + 1) < 0) return Outcome::OutOfRange;
  if (!mpfr_equal_p(rlo, rhi)) return Outcome::Undecided;
  if (!mpfr_fits_slong_p(rlo, MPFR_RNDN) || mpfr_cmp_si(rlo, INT64_MIN + 1) < 0) return Outcome::OutOfRange;
  raw = mpfr_get_si(rlo, MPFR_RNDN);
  return Outcome::Decided;
}

// Runs `enclose(lo, hi, bits)` (false: no real result) at rising precision until the
// rounding is decided.
template <typename Enclose>
std::optional<Decimal> Rounded(Enclose&& enclose) {
  for (mpfr_prec_t bits = kFirstPrecisionBits;; bits *= 2) {
    Real lo(bits), hi(bits);
    if (!enclose(lo.get(), hi.get(), bits)) return std::nullopt;
    int64_t raw = 0;
    switch (Decide(lo, hi, bits, raw)) {
      case Outcome::Decided: return Decimal::FromRaw(raw);
      case Outcome::OutOfRange: return std::nullopt;
      case Outcome::Undecided: break;
    }
    if (bits >= kMaxPrecisionBits) {
      // Within 2^-16384 of a halfway point that is not one: the lower bound's rounding.
      Real r(bits + 64);
      RoundedBound(lo, false, r);
      if (!mpfr_fits_slong_p(r, MPFR_RNDN)) return std::nullopt;
      return Decimal::FromRaw(mpfr_get_si(r, MPFR_RNDN));
    }
  }
}

// (raw / 10^8) ^ n for a whole n, 1 <= |n| <= kMaxExactExponent, raw != 0: exactly, as
// the ratio of two integers, then rounded half away from zero.
std::optional<Decimal> ExactPower(int64_t raw, int64_t n) {
  Integer base, num, den, q, r;
  mpz_set_si(base, raw);
  unsigned long k = static_cast<unsigned long>(n < 0 ? -n : n);
  mpz_pow_ui(num, base, k);       // raw^k
  mpz_ui_pow_ui(den, 10, 8 * k);  // 10^(8k)
  if (n < 0) mpz_swap(num, den);  // x^-k = 10^(8k) / raw^k
  if (mpz_sgn(den.get()) < 0) {
    mpz_neg(den, den);
    mpz_neg(num, num);
  }
  mpz_mul_ui(num, num, kScale);
  mpz_tdiv_qr(q, r, num, den);  // toward zero
  mpz_abs(r, r);
  mpz_mul_2exp(r, r, 1);
  if (mpz_cmp(r, den) >= 0) {  // half or more: away from zero
    if (mpz_sgn(num.get()) > 0) {
      mpz_add_ui(q, q, 1);
    } else {
      mpz_sub_ui(q, q, 1);
    }
  }
  if (!mpz_fits_slong_p(q) || mpz_cmp_si(q.get(), INT64_MIN + 1) < 0) return std::nullopt;
  return Decimal::FromRaw(mpz_get_si(q));
}

// Encloses x^y over x in [xl, xh] > 0 and y in [yl, yh]: x^y is monotone in each (in x
// by the sign of y, in y by the side of 1 x is on; neither interval straddles the point
// where the direction changes), so the extremes are at the corners.
void PowerCorners(mpfr_ptr xl, mpfr_ptr xh, mpfr_ptr yl, mpfr_ptr yh, mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
  Real t(bits);
  mpfr_set_inf(lo, 1);
  mpfr_set_inf(hi, -1);
  for (mpfr_ptr x : {xl, xh}) {
    for (mpfr_ptr y : {yl, yh}) {
      mpfr_pow(t, x, y, MPFR_RNDD);
      mpfr_min(lo, lo, t, MPFR_RNDD);
      mpfr_pow(t, x, y, MPFR_RNDU);
      mpfr_max(hi, hi, t, MPFR_RNDU);
    }
  }
}

}  // namespace

std::optional<Decimal> Power(Decimal a, Decimal b) {
  const int64_t x = a.raw(), y = b.raw();
  if (b.IsInteger()) {
    const int64_t n = y / Decimal::kOne;
    if (n == 0) return Decimal::FromInteger(1);  // x^0 = 1, 0^0 included (CQL)
    if (x == 0) return n > 0 ? std::optional<Decimal>(Decimal::FromRaw(0)) : std::nullopt;
    if (x == Decimal::kOne) return a;
    if (x == -Decimal::kOne) return n % 2 == 0 ? Decimal::FromInteger(1) : std::optional<Decimal>(a);
    if (n >= -kMaxExactExponent && n <= kMaxExactExponent) return ExactPower(x, n);
    // |x|^n in rising precision; the sign by n's parity.
    bool negative = x < 0 && n % 2 != 0;
    auto r = Rounded([&](mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
      Real xl(bits), xh(bits), e(bits);
      Enclose(x < 0 ? -x : x, xl, xh);
      mpfr_set_si(e, n, MPFR_RNDN);
      PowerCorners(xl, xh, e, e, lo, hi, bits);
      return true;
    });
    if (r && negative) return Decimal::FromRaw(-r->raw());
    return r;
  }
  if (x < 0) return std::nullopt;  // not a real number
  if (x == 0) return y > 0 ? std::optional<Decimal>(Decimal::FromRaw(0)) : std::nullopt;
  return Rounded([&](mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
    Real xl(bits), xh(bits), yl(bits), yh(bits);
    Enclose(x, xl, xh);
    Enclose(y, yl, yh);
    PowerCorners(xl, xh, yl, yh, lo, hi, bits);
    return true;
  });
}

std::optional<Decimal> Ln(Decimal a) {
  if (a.raw() <= 0) return std::nullopt;
  return Rounded([&](mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
    Real xl(bits), xh(bits);
    Enclose(a.raw(), xl, xh);
    mpfr_log(lo, xl, MPFR_RNDD);
    mpfr_log(hi, xh, MPFR_RNDU);
    return true;
  });
}

std::optional<Decimal> Exp(Decimal a) {
  return Rounded([&](mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
    Real xl(bits), xh(bits);
    Enclose(a.raw(), xl, xh);
    mpfr_exp(lo, xl, MPFR_RNDD);
    mpfr_exp(hi, xh, MPFR_RNDU);
    return true;
  });
}

std::optional<Decimal> Log(Decimal a, Decimal base) {
  if (a.raw() <= 0 || base.raw() <= 0 || base.raw() == Decimal::kOne) return std::nullopt;
  return Rounded([&](mpfr_ptr lo, mpfr_ptr hi, mpfr_prec_t bits) {
    Real xl(bits), xh(bits), bl(bits), bh(bits), t(bits);
    Enclose(a.raw(), xl, xh);
    Enclose(base.raw(), bl, bh);
    // ln a in [xl, xh] and ln base in [bl, bh], which holds no zero (base != 1).
    mpfr_log(t, xl, MPFR_RNDD);
    mpfr_swap(t, xl);
    mpfr_log(xh, xh, MPFR_RNDU);
    mpfr_log(t, bl, MPFR_RNDD);
    mpfr_swap(t, bl);
    mpfr_log(bh, bh, MPFR_RNDU);
    mpfr_set_inf(lo, 1);
    mpfr_set_inf(hi, -1);
    for (mpfr_ptr p : {xl.get(), xh.get()}) {
      for (mpfr_ptr q : {bl.get(), bh.get()}) {
        mpfr_div(t, p, q, MPFR_RNDD);
        mpfr_min(lo, lo, t, MPFR_RNDD);
        mpfr_div(t, p, q, MPFR_RNDU);
        mpfr_max(hi, hi, t, MPFR_RNDU);
      }
    }
    return true;
  });
}

}  // namespace cdr::stdlib
