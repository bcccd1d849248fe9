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

}  // namespace cdr::sema
