// compiler/driver/eval.cpp: `cdr eval`, closed expressions on the reference interpreter.
#include "compiler/driver/eval.h"

#include <iostream>

#include "compiler/driver/commands.h"
#include "compiler/jit/jit.h"
#include "runtime/interpreter.h"
#include "stdlib/decimal.h"

namespace cdr::driver {

using stdlib::Decimal;

namespace {

// Runs the compiled expression of `fe` (one synthetic rule, one let) on one back end.
std::optional<EvalResult> Run(Frontend& fe, bool native) {
  if (fe.diags.error_count() > 0 || fe.module.rules.size() != 1 || fe.module.rules[0].lets.size() != 1) return std::nullopt;
  const ir::Rule& rule = fe.module.rules[0];
  const ir::Let& let = rule.lets[0];
  const ast::Expr* expr = fe.files.back().decls[0].rule->items[0].expr.get();
  const sema::Type& type = fe.model.exprs.at(expr).type;

  runtime::Interner interner;
  runtime::LoadedRule loaded = runtime::Load(fe.module, rule, interner, {});
  if (native) {
    if (auto err = jit::Compile(rule, 2, loaded.native)) {
      fe.diags.Emit<diag::Msg::Unsupported>(source::SourceRange{}, "this expression on the JIT (" + *err + ")");
      return std::nullopt;
    }
  }
  std::vector<runtime::Value> regs;
  runtime::PatientEvents none;
  runtime::Evaluate(loaded, none, 0, interner, regs, nullptr, nullptr, 0, runtime::Wanted::AllLets);
  const runtime::Value& v = regs[static_cast<size_t>(let.inst)];

  EvalResult r;
  r.known = v.known;
  r.raw = v.v;
  switch (type.kind) {
    case sema::TypeKind::Boolean: r.type = EvalResult::Type::Boolean; break;
    case sema::TypeKind::Integer: r.type = EvalResult::Type::Integer; break;
    case sema::TypeKind::Decimal: r.type = EvalResult::Type::Decimal; break;
    case sema::TypeKind::Quantity:
      r.type = EvalResult::Type::Quantity;
      r.unit = type.unit.text;
      break;
    case sema::TypeKind::Text:
    case sema::TypeKind::Enum:
    case sema::TypeKind::Code:
      r.type = EvalResult::Type::Text;
      if (v.known) r.text = interner.Text(v.v);
      break;
    default: r.type = EvalResult::Type::Null; r.known = false; break;
  }
  return r;
}

}  // namespace

std::optional<EvalResult> Evaluate(Frontend& fe, const std::string& name, const std::string& expression) {
  fe.AddExpression(name, expression);
  fe.Check();
  fe.Lower();
  return Run(fe, /*native=*/false);
}

std::optional<EvalResult> EvaluateNative(Frontend& fe) { return Run(fe, /*native=*/true); }

std::string CqlLiteral(const EvalResult& r) {
  if (!r.known) return "null";
  switch (r.type) {
    case EvalResult::Type::Null: return "null";
    case EvalResult::Type::Boolean: return r.raw ? "true" : "false";
    case EvalResult::Type::Integer: return std::to_string(r.raw);
    case EvalResult::Type::Decimal:
    case EvalResult::Type::Quantity: {
      std::string s = Decimal::FromRaw(r.raw).ToShortString();
      if (s.find('.') == std::string::npos) s += ".0";  // a decimal always shows its point, as in CQL
      if (r.type == EvalResult::Type::Quantity) s += " '" + r.unit + "'";
      return s;
    }
    case EvalResult::Type::Text: {
      std::string s = "'";
      for (char c : r.text) {
        if (c == '\'' || c == '\\') s += '\\';
        s += c;
      }
      return s + "'";
    }
  }
  return "null";
}

int Eval(const std::string& expression, const std::string& format) {
  Frontend fe;
  auto result = Evaluate(fe, "<expression>", expression);
  if (format == "json") {
    std::cout << diag::FormatJson(fe.diags);
  } else {
    std::cerr << diag::FormatText(fe.diags);
  }
  if (!result) return fe.diags.error_count() > 0 ? kFailed : kUsage;
  if (format != "json") std::cout << CqlLiteral(*result) << "\n";
  return kOk;
}

}  // namespace cdr::driver
