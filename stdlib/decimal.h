// stdlib/decimal.h: the language's exact decimal (fixed point, 8 decimal places, as CQL's Decimal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cdr::stdlib {

/// The range of the language's integers: 32-bit, as CQL's Integer. Results outside it
/// are unknown; literals outside it are errors.
inline constexpr int64_t kMaxInteger = 2147483647;
inline constexpr int64_t kMinInteger = -2147483648LL;

/// 128-bit integer for exact intermediate products (a GCC/Clang extension).
__extension__ typedef __int128 Int128;

/// An exact decimal: an integer count of 10^-8. Never binary floating point, so
/// `3.3 - 3.0 >= 0.3` holds. Operations that overflow or divide by zero give no
/// value (the language's unknown), as CQL's arithmetic gives null.
class Decimal {
 public:
  static constexpr int kScale = 8;
  static constexpr int64_t kOne = 100000000;

  constexpr Decimal() = default;
  static constexpr Decimal FromRaw(int64_t raw) {
    Decimal d;
    d.raw_ = raw;
    return d;
  }
  static std::optional<Decimal> FromInteger(int64_t v);
  /// Parses `-12.345`; at most 8 decimal places, no exponent.
  static std::optional<Decimal> Parse(std::string_view text);
  /// Exact value num/den rounded half away from zero to 8 places.
  static std::optional<Decimal> FromRatio(Int128 num, Int128 den);

  int64_t raw() const { return raw_; }
  /// Shortest text with at least one decimal place: `5.0`, `0.3`, `-1.25`.
  std::string ToString() const;
  /// As ToString, but integers without the `.0` (for messages: `8`, `35.1`).
  std::string ToShortString() const;
  /// Exactly `places` decimal places (0 to 8), rounded half away from zero as `round`:
  /// `1.01` for 1.00775 at 2, `-0.13` for -0.125, `3` for 2.5 at 0 (message formats `{x:.2}`).
  std::string ToFixed(int places) const;
  double ToDouble() const { return static_cast<double>(raw_) / kOne; }
  bool IsInteger() const { return raw_ % kOne == 0; }

  friend std::optional<Decimal> Add(Decimal a, Decimal b);
  friend std::optional<Decimal> Sub(Decimal a, Decimal b);
  friend std::optional<Decimal> Mul(Decimal a, Decimal b);
  friend std::optional<Decimal> Div(Decimal a, Decimal b);
  /// a * num / den, rounded; used by unit conversions.
  std::optional<Decimal> Scale(Int128 num, Int128 den) const;

  friend constexpr bool operator==(Decimal a, Decimal b) { return a.raw_ == b.raw_; }
  friend constexpr auto operator<=>(Decimal a, Decimal b) { return a.raw_ <=> b.raw_; }

  /// The smallest step between two distinct decimals (10^-8).
  static constexpr Decimal Epsilon() { return FromRaw(1); }

 private:
  int64_t raw_ = 0;
};

std::optional<Decimal> Add(Decimal a, Decimal b);
std::optional<Decimal> Sub(Decimal a, Decimal b);
std::optional<Decimal> Mul(Decimal a, Decimal b);
std::optional<Decimal> Div(Decimal a, Decimal b);

}  // namespace cdr::stdlib
