// compiler/sema/types.cpp: type names and suggestions.
#include "compiler/sema/types.h"

#include <algorithm>

namespace cdr::sema {

std::string ToString(const Type& t) {
  switch (t.kind) {
    case TypeKind::Error: return "error";
    case TypeKind::Null: return "null";
    case TypeKind::Boolean: return "boolean";
    case TypeKind::Integer: return "integer";
    case TypeKind::Decimal: return "decimal";
    case TypeKind::Quantity:
      return t.IsDuration() ? "duration" : "quantity in `" + t.unit.text + "`";
    case TypeKind::DateTime: return "datetime";
    case TypeKind::Code: return "code";
    case TypeKind::Text: return "text";
    case TypeKind::Enum: return "enum `" + t.enum_name + "`";
  }
  return "error";
}

std::optional<stdlib::Decimal> ConstantInUnit(stdlib::Decimal value, const stdlib::Unit& unit, const stdlib::Unit& to,
                                              const SignalInfo* signal) {
  if (unit.CommensurableWith(to)) return stdlib::Convert(value, unit, to);
  if (!signal) return std::nullopt;
  for (const auto& [from, factor] : signal->conversions) {
    if (!from.CommensurableWith(unit)) continue;
    auto in_from = stdlib::Convert(value, unit, from);
    return in_from ? stdlib::Mul(*in_from, factor) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace cdr::sema
