// compiler/sema/check_calls.cpp: calls of built-in functions and aggregates
// (stdlib/functions.def), each typed by its row.
#include "compiler/sema/checker.h"

#include <fmt/format.h>

namespace cdr::sema::checker {

ExprInfo Checker::Call(const Expr& e, Scope& scope) {
  const FunctionInfo* f = stdlib::FindFunction(e.text);
  if (!f) {
    auto* d = Error<Msg::UnknownFunction>(e.name_range, e.text);
    std::vector<std::string> names;
    for (const auto& fn : stdlib::Functions()) names.emplace_back(fn.name);
    DidYouMean(d, e.text, e.name_range, names);
    for (const auto& a : e.args) {
      if (a.value && a.value->kind != ExprKind::Name) Check(*a.value, scope);
    }
    return Err();
  }
  Record(sema::Symbol::Kind::Function, e.text, e.name_range, {});
  model_.symbols.back().function = f->id;
  int n = static_cast<int>(e.args.size());
  if (n < f->min_args || n > f->max_args) {
    std::string takes = f->min_args == f->max_args
                            ? fmt::format("{} argument{}", f->min_args, f->min_args == 1 ? "" : "s")
                            : fmt::format("{} to {} arguments", f->min_args, f->max_args);
    Error<Msg::ArgumentCount>(e.range, e.text, takes, n);
    return Err();
  }
  ExprInfo r = f->aggregate ? AggregateCall(e, *stdlib::AsAggregate(f->id), scope) : ScalarCall(e, *f, scope);
  r.function = f->id;
  return r;
}

ExprInfo Checker::ScalarCall(const Expr& e, const FunctionInfo& f, Scope& scope) {
  for (const auto& a : e.args) {
    if (a.window) Error<Msg::NotAnAggregate>(a.window->range, e.text);
  }
  std::vector<ExprInfo> args;
  for (const auto& a : e.args) args.push_back(Check(*a.value, scope));
  for (const auto& a : args) {
    if (a.type.IsError()) return Err();
  }
  bool unknown = false;
  for (const auto& a : args) unknown = unknown || a.may_be_unknown;
  switch (f.id) {
    case Function::Abs:
    case Function::Round:
    case Function::Floor:
    case Function::Ceiling:
    case Function::Truncate: {
      const Type& t = args[0].type;
      if (!t.IsNumeric() && t.kind != TypeKind::Quantity) {
        Error<Msg::FunctionNeedsNumber>(e.args[0].value->range, e.text, ToString(t));
        return Err();
      }
      if (args.size() == 2 && args[1].type.kind != TypeKind::Integer) {
        Error<Msg::RoundPrecision>(e.args[1].value->range, ToString(args[1].type));
        return Err();
      }
      Type r = t;
      if ((f.id == Function::Floor || f.id == Function::Ceiling || f.id == Function::Truncate) && t.IsNumeric()) {
        r = Type::Of(TypeKind::Integer);
      }
      if (f.id == Function::Round && t.IsNumeric()) r = Type::Of(TypeKind::Decimal);  // as in CQL
      return Of(r, unknown);
    }
    case Function::Ln:
    case Function::Exp:
    case Function::Log:
    case Function::Power: {
      for (size_t k = 0; k < args.size(); ++k) {
        const Type& t = args[k].type;
        if (!t.IsNumeric() && t.kind != TypeKind::Null) {
          Error<Msg::FunctionNeedsNumbers>(e.args[k].value->range, e.text, ToString(t));
          return Err();
        }
      }
      return Of(Type::Of(f.id == Function::Power ? PowerKind(args[0], args[1]) : TypeKind::Decimal), true);
    }
    case Function::IsNull:
    case Function::IsTrue:
    case Function::IsFalse:
      if (f.id != Function::IsNull) Boolean(*e.args[0].value, args[0], "`" + e.text + "`");
      return Of(Type::Of(TypeKind::Boolean), false);
    case Function::Coalesce: {
      ExprInfo r = args[0];
      for (size_t i = 1; i < args.size(); ++i) r = Join(r, args[i], *e.args[i].value, "arguments of `coalesce`");
      if (r.type.IsError()) return r;
      r.may_be_unknown = true;
      for (const auto& a : args) r.may_be_unknown = r.may_be_unknown && a.may_be_unknown;
      r.unshielded_arith = false;
      return r;
    }
    case Function::ValueIn: return ValueIn(e, args[0], unknown);
#define AGGREGATE(id, name, summary) case Function::id:
#include "stdlib/functions.def"
      break;  // typed by AggregateCall
  }
  return Err();
}

// `value_in(quantity, 'unit')`: the number of a quantity in a commensurable unit.
ExprInfo Checker::ValueIn(const Expr& e, const ExprInfo& quantity, bool unknown) {
  if (quantity.type.kind != TypeKind::Quantity) {
    Error<Msg::ValueInNeedsQuantity>(e.args[0].value->range, ToString(quantity.type));
    return Err();
  }
  const Expr& u = *e.args[1].value;
  if (u.kind != ExprKind::Text) {
    Error<Msg::ValueInUnit>(u.range);
    return Err();
  }
  auto unit = Unit(ast::Unquote(u.text), u.range);
  if (!unit) return Err();
  if (!unit->CommensurableWith(quantity.type.unit)) {
    Error<Msg::ValueInDimension>(u.range, quantity.type.unit.text, unit->text);
    return Err();
  }
  return Of(Type::Of(TypeKind::Decimal), unknown);
}

ExprInfo Checker::AggregateCall(const Expr& e, Aggregate f, Scope& scope) {
  const ast::CallArg& arg = e.args[0];
  if (arg.window) {
    ExprInfo w = Check(*arg.window, scope);
    Window(*arg.window, w);
  }
  if (arg.value->kind != ExprKind::Name) {
    Error<Msg::AggregateTakesSignal>(arg.value->range, e.text, e.text);
    return Err();
  }
  const SignalInfo* s = Signal(arg.value->text, arg.value->range, scope);
  if (!s) return Err();
  const Type& t = s->type;
  ExprInfo r;
  r.signal = s->decl->name;
  switch (f) {
    case Aggregate::Count:
      r.type = Type::Of(TypeKind::Integer);
      return r;
    case Aggregate::Exists:
      r.type = Type::Of(TypeKind::Boolean);
      return r;
    case Aggregate::Arrived:
      if (arg.window) {
        auto* d = Error<Msg::ArrivedTakesNoWindow>(arg.window->range, s->decl->name);
        if (d) d->fixes.push_back(diag::FixIt{SourceRange{arg.value->range.file, arg.value->range.end_line,
                                                          arg.value->range.end_column, arg.window->range.end_line,
                                                          arg.window->range.end_column},
                                              ""});
        return Err();
      }
      r.type = Type::Of(TypeKind::Boolean);
      return r;
    case Aggregate::TimeSince:
      r.type = Type::Quantity(*stdlib::ParseUnit("min"));
      r.may_be_unknown = true;
      return r;
    case Aggregate::Last:
    case Aggregate::First:
      if (t.IsError()) {
        Error<Msg::EventWithoutValue>(arg.value->range, s->decl->name);
        return Err();
      }
      r.type = t;
      r.may_be_unknown = true;
      r.origin = s;
      return r;
    case Aggregate::Min:
    case Aggregate::Max:
    case Aggregate::Avg:
    case Aggregate::Sum:
    case Aggregate::Delta:
    case Aggregate::Slope: {
      if (!t.IsNumeric() && t.kind != TypeKind::Quantity) {
        Error<Msg::AggregateNeedsNumeric>(arg.value->range, e.text, s->decl->name, ToString(t));
        return Err();
      }
      r.type = t;
      if (f == Aggregate::Avg && t.kind == TypeKind::Integer) r.type = Type::Of(TypeKind::Decimal);
      if (f == Aggregate::Slope) {
        stdlib::Unit per_hour = *stdlib::ParseUnit("h");
        r.type = t.kind == TypeKind::Quantity ? Type::Quantity(stdlib::Divide(t.unit, per_hour))
                                              : Type::Quantity(stdlib::Divide(stdlib::One(), per_hour));
      }
      r.may_be_unknown = true;
      if (f == Aggregate::Min || f == Aggregate::Max || f == Aggregate::Avg) r.origin = s;
      return r;
    }
  }
  return Err();
}

}  // namespace cdr::sema::checker
