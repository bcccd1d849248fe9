// stdlib/decimal_math.h: power, logarithms and the exponential of exact decimals,
// correctly rounded to the language's 8 decimal places (half away from zero), in bounded
// time. Integer exponents up to 64 are computed exactly (GMP); the rest with interval
// bounds in rising precision (MPFR) until the rounding is decided.
#pragma once

#include <optional>

#include "stdlib/decimal.h"

namespace cdr::stdlib {

/// a ^ b. Unknown (nothing) when the result is not a real number (a negative base and an
/// exponent that is not whole; zero to a negative power) or is out of range.
std::optional<Decimal> Power(Decimal a, Decimal b);
/// Natural logarithm; unknown for a <= 0.
std::optional<Decimal> Ln(Decimal a);
/// e ^ a; unknown when out of range.
std::optional<Decimal> Exp(Decimal a);
/// Logarithm of `a` in base `base`; unknown for a <= 0, base <= 0 or base = 1.
std::optional<Decimal> Log(Decimal a, Decimal base);

/// The precision (in bits) beyond which an undecided rounding takes the lower bound's:
/// reached only by a result within 2^-kMaxPrecisionBits (relative) of a halfway point
/// that is not exactly one (docs/language.md, "Arithmetic").
inline constexpr long kMaxPrecisionBits = 1 << 14;

}  // namespace cdr::stdlib
