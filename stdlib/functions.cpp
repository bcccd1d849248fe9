// stdlib/functions.cpp: the table of built-ins, from functions.def.
#include "stdlib/functions.h"

#include <array>

namespace cdr::stdlib {
namespace {

// Aggregates come first in functions.def, so each has one value in both enums.
#define AGGREGATE(id, name, summary) \
  static_assert(static_cast<int>(Function::id) == static_cast<int>(Aggregate::id), "aggregates come first");
#include "stdlib/functions.def"

constexpr std::array kFunctions = {
#define AGGREGATE(id, name, summary) FunctionInfo{Function::id, name, true, 1, 1, summary},
#define FUNCTION(id, name, min_args, max_args, summary) FunctionInfo{Function::id, name, false, min_args, max_args, summary},
#include "stdlib/functions.def"
};

constexpr size_t kAggregates = 0
#define AGGREGATE(id, name, summary) +1
#include "stdlib/functions.def"
    ;

struct Alias {
  std::string_view name;
  Function id;
};
constexpr std::array kAliases = {
#define FUNCTION_ALIAS(id, name) Alias{name, Function::id},
#include "stdlib/functions.def"
};

}  // namespace

std::span<const FunctionInfo> Functions() { return kFunctions; }

const FunctionInfo& Info(Function f) { return kFunctions[static_cast<size_t>(f)]; }

const FunctionInfo* FindFunction(std::string_view name) {
  for (const auto& f : kFunctions) {
    if (f.name == name) return &f;
  }
  for (const auto& a : kAliases) {
    if (a.name == name) return &Info(a.id);
  }
  return nullptr;
}

std::optional<Aggregate> AsAggregate(Function f) {
  if (static_cast<size_t>(f) >= kAggregates) return std::nullopt;
  return static_cast<Aggregate>(f);
}

std::string_view Name(Aggregate a) { return kFunctions[static_cast<size_t>(a)].name; }

}  // namespace cdr::stdlib
