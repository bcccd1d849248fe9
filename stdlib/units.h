// stdlib/units.h: UCUM units as types: parsing, dimensions and exact conversion.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stdlib/decimal.h"

namespace cdr::stdlib {

/// Exponents of the base dimensions: length, mass, time, temperature, amount,
/// and the special dimensions pH and international unit, which convert to nothing else.
struct Dimension {
  std::array<int8_t, 7> exp{};
  friend bool operator==(const Dimension&, const Dimension&) = default;
  bool IsNone() const { return exp == std::array<int8_t, 7>{}; }
  bool IsTime() const { return exp == std::array<int8_t, 7>{0, 0, 1, 0, 0, 0, 0}; }
  Dimension Times(const Dimension& o, int sign = 1) const;
  /// Readable form such as `mass/length3` for messages.
  std::string ToString() const;
};

/// A parsed UCUM unit: its text, its dimension, and its value in base units,
/// (v + offset) * factor, both exact rationals. Offsets exist only for the
/// affine temperature units (Cel, [degF]) used on their own.
struct Unit {
  std::string text;
  Dimension dim;
  Int128 factor_num = 1;
  Int128 factor_den = 1;
  Int128 offset_num = 0;
  Int128 offset_den = 1;
  bool out_of_range = false;  // a product of units whose factor does not fit: converts to nothing

  bool IsAffine() const { return offset_num != 0; }
  /// True when both units have the same dimension (a conversion exists).
  bool CommensurableWith(const Unit& o) const { return dim == o.dim; }
  /// True when converting between them is the identity.
  bool SameScale(const Unit& o) const;
};

/// Parses a UCUM expression such as `mg/dL`, `10*3/uL`, `mL/kg/h`, `mm[Hg]`.
/// On failure returns nothing and sets `error` to a readable reason.
std::optional<Unit> ParseUnit(std::string_view text, std::string* error = nullptr);

/// A conversion as exact numbers: to = (from + from_offset) * num / den - to_offset.
struct Linear {
  Int128 num = 1, den = 1;
  Decimal from_offset, to_offset;
};
/// The conversion between two units of one dimension (nothing otherwise).
std::optional<Linear> LinearConversion(const Unit& from, const Unit& to);

/// Converts `value` from one unit to another of the same dimension, exactly
/// up to the 8th decimal place (rounded half away from zero).
std::optional<Decimal> Convert(Decimal value, const Unit& from, const Unit& to);

/// The unit of a product or quotient, such as `mg/dL` / `h` for a slope.
Unit Multiply(const Unit& a, const Unit& b);
Unit Divide(const Unit& a, const Unit& b);

/// The unit of the dimensionless number `1`.
Unit One();

/// Every atom code in the table.
const std::vector<std::string_view>& AtomCodes();

/// The UCUM spelling of a common non-UCUM unit (`mmHg` -> `mm[Hg]`, `degF` -> `[degF]`),
/// or the closest common clinical unit; empty when nothing is close.
std::string SuggestUnit(std::string_view text);

}  // namespace cdr::stdlib
