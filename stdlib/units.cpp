// stdlib/units.cpp: a small UCUM parser over the atom table in units.def.
#include "stdlib/units.h"

#include <cstdlib>
#include <algorithm>
#include <numeric>

namespace cdr::stdlib {
namespace {

struct Atom {
  std::string_view code;
  bool metric;
  Dimension dim;
  int64_t factor_num, factor_den, offset_num, offset_den;
};

const std::vector<Atom>& Atoms() {
  static const std::vector<Atom> atoms = {
#define UNIT(code, metric, l, m, t, th, n, ph, iu, fn, fd, on, od) \
  Atom{code, metric, Dimension{{l, m, t, th, n, ph, iu}}, fn, fd, on, od},
#include "stdlib/units.def"
#undef UNIT
  };
  return atoms;
}

struct Prefix {
  std::string_view code;
  int power;
};

// UCUM's SI prefixes; two-letter `da` is tried before `d`.
constexpr Prefix kPrefixes[] = {{"da", 1}, {"T", 12}, {"G", 9},  {"M", 6},   {"k", 3},
                                {"h", 2},  {"d", -1}, {"c", -2}, {"m", -3},  {"u", -6},
                                {"n", -9}, {"p", -12}, {"f", -15}};

Int128 Pow10(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

Int128 Gcd(Int128 a, Int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    Int128 t = a % b;
    a = b;
    b = t;
  }
  return a == 0 ? 1 : a;
}

void Reduce(Int128& num, Int128& den) {
  Int128 g = Gcd(num, den);
  num /= g;
  den /= g;
}

// Factors stay below 2^62 so that the product of two (a conversion) fits in 128 bits.
constexpr Int128 kFactorLimit = static_cast<Int128>(1) << 62;

bool MulFactor(Unit& u, Int128 num, Int128 den, int exp) {
  int n = exp < 0 ? -exp : exp;
  for (int i = 0; i < n; ++i) {
    Int128 a = exp > 0 ? num : den, b = exp > 0 ? den : num;
    // Each operand is below 2^62 (checked below and at the atoms), so these cannot overflow.
    u.factor_num *= a;
    u.factor_den *= b;
    Reduce(u.factor_num, u.factor_den);
    if (u.factor_num > kFactorLimit || u.factor_den > kFactorLimit) return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  std::optional<Unit> Run(std::string* error) {
    Unit u = One();
    if (s_.empty()) return Fail(error, "empty unit");
    int atoms = 0;
    bool ok = Term(u, 1, atoms, 0);
    if (ok && pos_ != s_.size()) {
      err_ = "unexpected `" + std::string(1, s_[pos_]) + "`";
      ok = false;
    }
    if (!ok) return Fail(error, err_);
    u.text = std::string(s_);
    // Offsets apply only to an affine atom standing alone.
    if (!(atoms == 1 && single_affine_)) {
      u.offset_num = 0;
      u.offset_den = 1;
    }
    return u;
  }

 private:
  std::optional<Unit> Fail(std::string* error, std::string why) {
    if (error) *error = std::move(why);
    return std::nullopt;
  }

  bool Term(Unit& u, int sign, int& atoms, int depth) {
    if (depth > 8) {
      err_ = "unit nests too deeply";
      return false;
    }
    int op = sign;
    if (Peek() == '/') {
      ++pos_;
      op = -sign;
    }
    if (!Component(u, op, atoms, depth)) return false;
    while (Peek() == '.' || Peek() == '/') {
      op = (s_[pos_] == '/') ? -sign : sign;
      ++pos_;
      if (!Component(u, op, atoms, depth)) return false;
    }
    return true;
  }

  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  bool Annotation() {
    size_t close = s_.find('}', pos_);
    if (close == std::string_view::npos) {
      err_ = "unterminated annotation `{`";
      return false;
    }
    pos_ = close + 1;
    return true;
  }

  bool Exponent(int& exp) {
    size_t start = pos_;
    if (Peek() == '+' || Peek() == '-') ++pos_;
    size_t digits = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    if (pos_ == digits) {
      pos_ = start;
      exp = 1;
      return true;
    }
    if (pos_ - digits > 2) {
      err_ = "exponent too large";
      return false;
    }
    exp = std::atoi(std::string(s_.substr(start, pos_ - start)).c_str());
    return true;
  }

  bool Component(Unit& u, int sign, int& atoms, int depth) {
    if (Peek() == '(') {
      ++pos_;
      Unit inner = One();
      int inner_atoms = 0;
      if (!Term(inner, 1, inner_atoms, depth + 1)) return false;
      if (Peek() != ')') {
        err_ = "missing `)`";
        return false;
      }
      ++pos_;
      int exp = 1;
      if (!Exponent(exp)) return false;
      atoms += 2;  // a parenthesised group is never a lone affine atom
      u.dim = u.dim.Times(inner.dim, sign * exp);
      return MulFactor(u, inner.factor_num, inner.factor_den, sign * exp) || Overflow();
    }
    if (Peek() == '{') return Annotation();
    if (std::isdigit(static_cast<unsigned char>(Peek()))) {
      size_t start = pos_;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
      std::string digits(s_.substr(start, pos_ - start));
      if (digits.size() > 18) {
        err_ = "number too large";
        return false;
      }
      // 10*N multiplies by 10 at a time, so every step stays within the factor limit.
      Int128 base = std::atoll(digits.c_str());
      int exp = 1;
      if (Peek() == '*' || Peek() == '^') {
        ++pos_;
        if (!Exponent(exp)) return false;
        if (exp > 24 || exp < -24) {
          err_ = "exponent too large";
          return false;
        }
      }
      if (Peek() == '{' && !Annotation()) return false;
      if (base == 0) {
        err_ = "zero factor";
        return false;
      }
      atoms += 2;
      if (base > kFactorLimit) return Overflow();
      return MulFactor(u, base, 1, sign * exp) || Overflow();
    }
    // An atom: up to a separator, an exponent or an annotation; brackets may hold digits.
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[') {
        size_t close = s_.find(']', pos_);
        if (close == std::string_view::npos) {
          err_ = "unterminated `[`";
          return false;
        }
        pos_ = close + 1;
        continue;
      }
      if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '+' || c == '-' ||
          std::isdigit(static_cast<unsigned char>(c))) {
        break;
      }
      ++pos_;
    }
    if (pos_ == start) {
      err_ = pos_ < s_.size() ? "unexpected `" + std::string(1, s_[pos_]) + "`" : "missing unit";
      return false;
    }
    std::string_view code = s_.substr(start, pos_ - start);
    int exp = 1;
    if (!Exponent(exp)) return false;
    if (Peek() == '{' && !Annotation()) return false;
    const Atom* atom = nullptr;
    int power = 0;
    for (const Atom& a : Atoms()) {
      if (a.code == code) atom = &a;
    }
    if (!atom) {
      for (const Prefix& p : kPrefixes) {
        if (code.size() <= p.code.size() || code.substr(0, p.code.size()) != p.code) continue;
        std::string_view rest = code.substr(p.code.size());
        for (const Atom& a : Atoms()) {
          if (a.metric && a.code == rest) {
            atom = &a;
            power = p.power;
          }
        }
        if (atom) break;
      }
    }
    if (!atom) {
      err_ = "unknown unit `" + std::string(code) + "`";
      return false;
    }
    ++atoms;
    single_affine_ = atom->offset_num != 0 && exp == 1 && sign == 1 && power == 0;
    if (single_affine_) {
      u.offset_num = atom->offset_num;
      u.offset_den = atom->offset_den;
    }
    u.dim = u.dim.Times(atom->dim, sign * exp);
    if (!MulFactor(u, atom->factor_num, atom->factor_den, sign * exp)) return Overflow();
    if (power > 0) return MulFactor(u, Pow10(power), 1, sign * exp) || Overflow();
    if (power < 0) return MulFactor(u, 1, Pow10(-power), sign * exp) || Overflow();
    return true;
  }

  bool Overflow() {
    err_ = "unit factor out of range";
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool single_affine_ = false;
  std::string err_;
};

}  // namespace

Dimension Dimension::Times(const Dimension& o, int sign) const {
  Dimension d = *this;
  for (size_t i = 0; i < d.exp.size(); ++i) d.exp[i] = static_cast<int8_t>(d.exp[i] + sign * o.exp[i]);
  return d;
}

std::string Dimension::ToString() const {
  static constexpr const char* kNames[] = {"length", "mass", "time", "temperature",
                                           "amount", "pH", "international unit"};
  std::string num, den;
  for (size_t i = 0; i < exp.size(); ++i) {
    if (exp[i] == 0) continue;
    std::string& part = exp[i] > 0 ? num : den;
    if (!part.empty()) part += "\u00b7";
    part += kNames[i];
    int e = exp[i] > 0 ? exp[i] : -exp[i];
    if (e != 1) part += "^" + std::to_string(e);
  }
  if (num.empty() && den.empty()) return "dimensionless";
  if (den.empty()) return num;
  return (num.empty() ? "1" : num) + "/" + den;
}

bool Unit::SameScale(const Unit& o) const {
  if (out_of_range || o.out_of_range) return false;
  return dim == o.dim && factor_num * o.factor_den == o.factor_num * factor_den &&
         offset_num * o.offset_den == o.offset_num * offset_den;
}

Unit One() {
  Unit u;
  u.text = "1";
  return u;
}

std::optional<Unit> ParseUnit(std::string_view text, std::string* error) {
  if (text == "1") return One();
  return Parser(text).Run(error);
}

std::optional<Linear> LinearConversion(const Unit& from, const Unit& to) {
  if (!from.CommensurableWith(to) || from.out_of_range || to.out_of_range) return std::nullopt;
  Linear l;
  // Factors are below 2^62, so these products fit.
  l.num = from.factor_num * to.factor_den;
  l.den = from.factor_den * to.factor_num;
  Reduce(l.num, l.den);
  if (from.IsAffine()) {
    auto off = Decimal::FromRatio(from.offset_num, from.offset_den);
    if (!off) return std::nullopt;
    l.from_offset = *off;
  }
  if (to.IsAffine()) {
    auto off = Decimal::FromRatio(to.offset_num, to.offset_den);
    if (!off) return std::nullopt;
    l.to_offset = *off;
  }
  return l;
}

std::optional<Decimal> Convert(Decimal value, const Unit& from, const Unit& to) {
  auto l = LinearConversion(from, to);
  if (!l) return std::nullopt;
  // One rounding, at the scaling step.
  auto shifted = Add(value, l->from_offset);
  if (!shifted) return std::nullopt;
  auto scaled = shifted->Scale(l->num, l->den);
  if (!scaled) return std::nullopt;
  return Sub(*scaled, l->to_offset);
}

namespace {

// num/den = (an * bn) / (ad * bd), reduced; marks the unit out of range on overflow.
void SetProduct(Unit& u, Int128 an, Int128 ad, Int128 bn, Int128 bd) {
  Int128 num, den;
  if (__builtin_mul_overflow(an, bn, &num) || __builtin_mul_overflow(ad, bd, &den)) {
    u.out_of_range = true;
    return;
  }
  Reduce(num, den);
  u.factor_num = num;
  u.factor_den = den;
  if (num > kFactorLimit || den > kFactorLimit) u.out_of_range = true;
}

}  // namespace

Unit Multiply(const Unit& a, const Unit& b) {
  Unit u;
  u.text = a.text == "1" ? b.text : (b.text == "1" ? a.text : a.text + "." + b.text);
  u.dim = a.dim.Times(b.dim);
  u.out_of_range = a.out_of_range || b.out_of_range;
  SetProduct(u, a.factor_num, a.factor_den, b.factor_num, b.factor_den);
  return u;
}

Unit Divide(const Unit& a, const Unit& b) {
  Unit u;
  bool compound = b.text.find_first_of("./") != std::string::npos;
  std::string denom = compound ? "(" + b.text + ")" : b.text;
  u.text = b.text == "1" ? a.text : (a.text == "1" ? "/" + denom : a.text + "/" + denom);
  u.dim = a.dim.Times(b.dim, -1);
  u.out_of_range = a.out_of_range || b.out_of_range;
  SetProduct(u, a.factor_num, a.factor_den, b.factor_den, b.factor_num);
  return u;
}

const std::vector<std::string_view>& AtomCodes() {
  static const std::vector<std::string_view> codes = [] {
    std::vector<std::string_view> v;
    for (const Atom& a : Atoms()) v.push_back(a.code);
    return v;
  }();
  return codes;
}

std::string SuggestUnit(std::string_view text) {
  static const std::vector<std::pair<std::string_view, std::string_view>> aliases = {
      {"mmHg", "mm[Hg]"}, {"mm Hg", "mm[Hg]"}, {"cmH2O", "cm[H2O]"}, {"degF", "[degF]"}, {"F", "[degF]"},
      {"degC", "Cel"},    {"C", "Cel"},        {"bpm", "/min"},       {"beats/min", "/min"},
      {"breaths/min", "/min"}, {"mEq", "meq"}, {"IU", "[iU]"},       {"pH", "[pH]"},
      {"hr", "h"},        {"hrs", "h"},        {"hours", "h"},        {"mins", "min"},
      {"sec", "s"},       {"days", "d"},       {"K/uL", "10*3/uL"},   {"x10^9/L", "10*9/L"}};
  for (const auto& [alias, ucum] : aliases) {
    if (alias == text) return std::string(ucum);
  }
  static const std::vector<std::string_view> common = {
      "/min", "mm[Hg]", "Cel", "[degF]", "%", "mg/dL", "g/dL", "g/L", "mmol/L", "umol/L", "mEq/L",
      "10*3/uL", "10*9/L", "U/L", "ng/mL", "kg", "g", "L", "mL", "mL/h", "mL/kg/h", "s", "min", "h",
      "d", "wk", "[pH]", "[iU]/L", "kPa"};
  size_t best_d = std::max<size_t>(1, text.size() / 3) + 1;
  std::string best;
  for (std::string_view c : common) {
    // Edit distance, small strings only.
    if (text.size() > 32) break;
    std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= text.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (text[i - 1] == c[j - 1] ? 0 : 1)});
      }
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = std::string(c);
    }
  }
  return best;
}

}  // namespace cdr::stdlib
