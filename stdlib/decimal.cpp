// stdlib/decimal.cpp: exact fixed-point decimal arithmetic.
#include "stdlib/decimal.h"

#include <algorithm>
#include <limits>

namespace cdr::stdlib {
namespace {

std::optional<Decimal> Fit(Int128 v) {
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) {
    return std::nullopt;
  }
  return Decimal::FromRaw(static_cast<int64_t>(v));
}

// Rounds num/den half away from zero.
std::optional<Int128> RoundedDiv(Int128 num, Int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Int128 q = num / den;
  Int128 r = num % den;
  if (r < 0) r = -r;
  if (2 * r >= den) q += (num < 0) ? -1 : 1;
  return q;
}

}  // namespace

std::optional<Decimal> Decimal::FromInteger(int64_t v) {
  return Fit(static_cast<Int128>(v) * kOne);
}

std::optional<Decimal> Decimal::Parse(std::string_view text) {
  bool negative = false;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    negative = text[i] == '-';
    ++i;
  }
  if (i >= text.size()) return std::nullopt;
  Int128 whole = 0;
  size_t digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
    whole = whole * 10 + (text[i] - '0');
    if (whole > std::numeric_limits<int64_t>::max()) return std::nullopt;
  }
  if (digits == 0) return std::nullopt;
  Int128 frac = 0;
  int places = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (places == kScale) return std::nullopt;
      frac = frac * 10 + (text[i] - '0');
      ++places;
    }
    if (i == start) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  for (int p = places; p < kScale; ++p) frac *= 10;
  Int128 raw = whole * kOne + frac;
  return Fit(negative ? -raw : raw);
}

std::optional<Decimal> Decimal::FromRatio(Int128 num, Int128 den) {
  // num/den * 10^8, computed without losing the remainder.
  if (den == 0) return std::nullopt;
  constexpr Int128 kLimit = static_cast<Int128>(1) << 100;
  if (num > kLimit || num < -kLimit) return std::nullopt;
  auto q = RoundedDiv(num * kOne, den);
  if (!q) return std::nullopt;
  return Fit(*q);
}

std::string Decimal::ToString() const {
  Int128 v = raw_;
  bool negative = v < 0;
  if (negative) v = -v;
  auto whole = static_cast<unsigned long long>(v / kOne);
  auto frac = static_cast<unsigned long long>(v % kOne);
  std::string out = negative ? "-" : "";
  out += std::to_string(whole);
  std::string f = std::to_string(frac);
  f.insert(0, kScale - f.size(), '0');
  while (f.size() > 1 && f.back() == '0') f.pop_back();
  out += '.';
  out += f;
  return out;
}

std::string Decimal::ToShortString() const {
  std::string s = ToString();
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string Decimal::ToFixed(int places) const {
  places = std::clamp(places, 0, kScale);
  int64_t unit = 1;
  for (int i = places; i < kScale; ++i) unit *= 10;
  // |raw| rounded half away from zero to a multiple of `unit`, in units.
  Int128 magnitude = raw_ < 0 ? -static_cast<Int128>(raw_) : static_cast<Int128>(raw_);
  Int128 q = magnitude / unit + (magnitude % unit * 2 >= unit ? 1 : 0);
  int64_t scale = 1;
  for (int i = 0; i < places; ++i) scale *= 10;
  std::string out = raw_ < 0 && q != 0 ? "-" : "";
  out += std::to_string(static_cast<int64_t>(q / scale));
  if (places > 0) {
    std::string frac = std::to_string(static_cast<int64_t>(q % scale));
    out += "." + std::string(static_cast<size_t>(places) - frac.size(), '0') + frac;
  }
  return out;
}

std::optional<Decimal> Add(Decimal a, Decimal b) {
  return Fit(static_cast<Int128>(a.raw_) + b.raw_);
}

std::optional<Decimal> Sub(Decimal a, Decimal b) {
  return Fit(static_cast<Int128>(a.raw_) - b.raw_);
}

std::optional<Decimal> Mul(Decimal a, Decimal b) {
  auto q = RoundedDiv(static_cast<Int128>(a.raw_) * b.raw_, Decimal::kOne);
  if (!q) return std::nullopt;
  return Fit(*q);
}

std::optional<Decimal> Div(Decimal a, Decimal b) {
  if (b.raw_ == 0) return std::nullopt;
  auto q = RoundedDiv(static_cast<Int128>(a.raw_) * Decimal::kOne, b.raw_);
  if (!q) return std::nullopt;
  return Fit(*q);
}

std::optional<Decimal> Decimal::Scale(Int128 num, Int128 den) const {
  constexpr Int128 kLimit = static_cast<Int128>(1) << 62;
  if (num > kLimit || num < -kLimit) {
    // Reduce precision of huge factors rather than overflow the product.
    return FromRatio(static_cast<Int128>(raw_) * (num / Decimal::kOne), den);
  }
  auto q = RoundedDiv(static_cast<Int128>(raw_) * num, den);
  if (!q) return std::nullopt;
  return Fit(*q);
}

}  // namespace cdr::stdlib
