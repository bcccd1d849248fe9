// stdlib/functions.h: the built-in aggregates and functions, generated from functions.def.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace cdr::stdlib {

/// Every built-in, aggregates first.
enum class Function : uint8_t {
#define AGGREGATE(id, name, summary) id,
#define FUNCTION(id, name, min_args, max_args, summary) id,
#include "stdlib/functions.def"
};

/// The aggregates: the first rows of `Function`, with the same values.
enum class Aggregate : uint8_t {
#define AGGREGATE(id, name, summary) id,
#include "stdlib/functions.def"
};

struct FunctionInfo {
  Function id;
  std::string_view name;
  bool aggregate;
  int min_args, max_args;
  std::string_view summary;
};

/// The rows of functions.def, in order (indexed by `Function`).
std::span<const FunctionInfo> Functions();
const FunctionInfo& Info(Function f);
/// The function named `name` in any of its spellings (`Abs` is `abs`), or null.
const FunctionInfo* FindFunction(std::string_view name);
/// The aggregate a function is, if it is one.
std::optional<Aggregate> AsAggregate(Function f);
/// The name of an aggregate (`time_since`).
std::string_view Name(Aggregate a);

}  // namespace cdr::stdlib
