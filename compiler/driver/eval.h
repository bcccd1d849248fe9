// compiler/driver/eval.h: closed expressions (`cdr eval`, the CQL conformance runner):
// compiled by the whole front end and run on the reference interpreter.
#pragma once

#include <optional>
#include <string>

#include "compiler/driver/frontend.h"

namespace cdr::driver {

/// The value of a closed expression.
struct EvalResult {
  enum class Type { Null, Boolean, Integer, Decimal, Quantity, Text } type = Type::Null;
  bool known = false;
  int64_t raw = 0;   // Boolean 0/1, Integer, Decimal/Quantity raw (10^-8 steps)
  std::string unit;  // Quantity
  std::string text;  // Text
};

/// Compiles and evaluates `expression`. Diagnostics (with `name` as the file name) are
/// left in `fe`; the result is empty when there are errors.
std::optional<EvalResult> Evaluate(Frontend& fe, const std::string& name, const std::string& expression);

/// The expression `Evaluate` compiled into `fe`, computed again by the JIT's code (no
/// second pass of the front end); empty when it did not compile or the JIT refuses it.
std::optional<EvalResult> EvaluateNative(Frontend& fe);

/// A CQL literal: `null`, `true`, `5`, `5.0`, `5.0 'mg'`, `'text'`.
std::string CqlLiteral(const EvalResult& r);

/// `cdr eval EXPR`: prints the value, or the diagnostics (exit codes as `cdr lint`).
int Eval(const std::string& expression, const std::string& format);

}  // namespace cdr::driver
