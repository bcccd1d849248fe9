// compiler/driver/test_cmd.cpp: `cdr test`: runs the rule tests written in .cdr files and
// reports failures with their source location, and coverage of `when` clauses and band rows.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/json_sink.h"
#include "stdlib/responses.h"
#include "stdlib/time.h"
#include "stdlib/units.h"

namespace cdr::driver {
namespace {

// Test times are offsets from this instant, or date-times.
constexpr int64_t kTestEpoch = 946684800000LL;  // 2000-01-01T00:00:00Z

std::optional<int64_t> TestTime(const Frontend& fe, const ast::Expr& e) {
  if (e.kind == ast::ExprKind::DateTime) return stdlib::ParseTime(e.text.substr(1));
  auto it = fe.model.exprs.find(&e);
  if (it == fe.model.exprs.end() || !it->second.constant || it->second.type.kind != sema::TypeKind::Quantity) {
    return std::nullopt;
  }
  auto ms = stdlib::Convert(*it->second.constant, it->second.type.unit, *stdlib::ParseUnit("ms"));
  if (!ms) return std::nullopt;
  return kTestEpoch + ms->raw() / stdlib::Decimal::kOne;
}

std::string Offset(int64_t t) {
  int64_t d = t - kTestEpoch;
  if (d >= 0 && d % 3600000 == 0) return fmt::format("{}h", d / 3600000);
  if (d >= 0 && d % 60000 == 0) return fmt::format("{}min", d / 60000);
  return stdlib::FormatTime(t);
}

// `expect NAME = VALUE at T`: the let's final value at the evaluation point T.
std::optional<std::string> CheckValue(const ir::Rule& rule, const ast::TestStep& step,
                                      const std::map<int64_t, const std::vector<runtime::Datum>*>& values, int64_t t) {
  using Kind = runtime::Datum::Kind;
  std::string expected =
      step.value ? (step.value->kind == ast::PlainValue::Kind::Text ? "'" + step.value->text + "'" : step.value->text)
                 : "null";
  if (step.value && !step.value->unit.empty()) expected += " '" + step.value->unit + "'";
  std::string head = fmt::format("expected {} = {} at {}", step.signal, expected, Offset(t));
  auto at = values.find(t);
  if (at == values.end()) return head + ", but the rule has no evaluation point there (no event of its signals)";
  const ir::Let* let = nullptr;
  size_t index = 0;
  for (size_t i = 0; i < rule.lets.size(); ++i) {
    if (rule.lets[i].name == step.signal) {
      let = &rule.lets[i];
      index = i;
    }
  }
  if (!let || index >= at->second->size()) return head + ", but the trace has no such value";
  const runtime::Datum& got = (*at->second)[index];
  std::string shown = runtime::DatumJson(got);
  bool same = false;
  if (!step.value) {
    same = got.kind == Kind::Unknown;
  } else if (step.value->kind == ast::PlainValue::Kind::Bool) {
    same = got.kind == Kind::Bool && (got.v != 0) == (step.value->text == "true");
  } else if (step.value->kind == ast::PlainValue::Kind::Text) {
    same = got.kind == Kind::Text && got.text == step.value->text;
  } else if (got.kind == Kind::Int || got.kind == Kind::Dec) {
    auto want = stdlib::Decimal::Parse(step.value->text);  // signed, as written in the test
    if (want && !step.value->unit.empty() && step.value->unit != let->unit) {
      auto from = stdlib::ParseUnit(step.value->unit), to = stdlib::ParseUnit(let->unit);
      want = from && to ? stdlib::Convert(*want, *from, *to) : std::nullopt;
    }
    // An integer let's value v is the decimal v; a decimal's is its raw value.
    auto have = got.kind == Kind::Dec ? std::optional(stdlib::Decimal::FromRaw(got.v))
                                      : stdlib::Decimal::FromInteger(got.v);
    same = want && have && *want == *have;
    if (!let->unit.empty() && let->unit != "1") shown += " '" + let->unit + "'";
  }
  if (same) return std::nullopt;
  return head + ", got " + shown;
}

// The NDJSON event of a `given` step at `when` (the n-th given of its test).
std::string GivenEvent(const Frontend& fe, const ast::TestStep& step, int64_t when, int n) {
  nlohmann::json ev;
  ev["id"] = step.id.empty() ? fmt::format("given-{}", n) : ast::Unquote(step.id);
  ev["patient"] = "test";
  ev["time"] = stdlib::FormatTime(when);
  if (step.recorded) {
    if (auto rec = TestTime(fe, *step.recorded)) ev["recorded"] = stdlib::FormatTime(*rec);
  }
  if (!step.status.empty()) ev["status"] = step.status == "entered_in_error" ? "entered-in-error" : step.status;
  if (size_t dot = step.signal.find('.'); dot != std::string::npos) {
    // `given news2.acknowledged 'rn.lee' at 2h`: an alert response (docs/events.md), by
    // the value's author, to an alert the test does not name (any 32 hex digits will do).
    if (const stdlib::ResponseKind* kind = stdlib::ResponseOfMember(std::string_view(step.signal).substr(dot + 1))) {
      ev["response"] = {{"action", kind->action},
                        {"rule", step.signal.substr(0, dot)},
                        {"alert", std::string(32, '0')},
                        {"by", step.value ? step.value->text : std::string()}};
    }
    return ev.dump();
  }
  ev["signal"] = step.signal;
  std::string value_json;  // a number as written: exact, not through a double
  if (step.value) {
    const auto& v = *step.value;
    if (v.kind == ast::PlainValue::Kind::Number) {
      value_json = v.text;
      if (!v.unit.empty()) ev["unit"] = v.unit;
    } else if (v.kind == ast::PlainValue::Kind::Bool) {
      ev["value"] = v.text == "true";
    } else {
      ev["value"] = v.text;
    }
  }
  std::string line = ev.dump();
  if (!value_json.empty()) line = line.substr(0, line.size() - 1) + ",\"value\":" + value_json + "}";
  return line;
}

struct Expect {
  const ast::TestStep* step;
  int64_t time;
};

// What one run of a test saw: the rule's final alerts (fires minus retractions, by time)
// and the final values of its lets at each evaluation point (the trace).
struct Outcome {
  std::map<int64_t, std::string> alerts;  // time -> severity
  std::map<int64_t, const std::vector<runtime::Datum>*> values;  // into the sink's records
};

Outcome OutcomeOf(const runtime::RecordingSink& sink, const ir::Rule& rule) {
  Outcome out;
  for (const auto& a : sink.alerts) {
    if (a.rule->id != rule.id) continue;
    if (a.action == runtime::AlertRecord::Action::Fire) {
      out.alerts[a.time] = a.severity();
    } else {
      out.alerts.erase(a.time);
    }
  }
  for (const auto& t : sink.trace) {
    if (t.rule->id == rule.id) out.values[t.time] = &t.values;
  }
  return out;
}

// The problems of one expectation against what the run saw.
void CheckExpect(const ir::Rule& rule, const Expect& e, const Outcome& seen, const std::string& where,
                 std::vector<std::string>& problems) {
  if (e.step->kind == ast::TestStep::Kind::ExpectValue) {
    if (auto problem = CheckValue(rule, *e.step, seen.values, e.time)) problems.push_back(where + ": " + *problem);
    return;
  }
  auto it = seen.alerts.find(e.time);
  if (e.step->kind == ast::TestStep::Kind::ExpectNoAlert) {
    if (it != seen.alerts.end()) {
      problems.push_back(fmt::format("{}: expected no alert at {}, got a {} alert", where, Offset(e.time), it->second));
    }
  } else if (it == seen.alerts.end()) {
    std::string near;
    for (const auto& [at, sev] : seen.alerts) near += fmt::format(" {} at {};", sev, Offset(at));
    problems.push_back(fmt::format("{}: expected {}alert at {}, got none{}", where,
                                   e.step->severity.empty() ? "an " : "a " + e.step->severity + " ", Offset(e.time),
                                   near.empty() ? "" : " (alerts:" + near.substr(0, near.size() - 1) + ")"));
  } else if (!e.step->severity.empty() && it->second != e.step->severity) {
    problems.push_back(
        fmt::format("{}: expected a {} alert at {}, got {}", where, e.step->severity, Offset(e.time), it->second));
  }
}

// Adds the band rows and `when` clauses one run exercised to `acc`.
void MergeCoverage(runtime::Coverage& acc, const runtime::Coverage& c) {
  if (acc.band_rows.size() != c.band_rows.size() || acc.whens.size() != c.whens.size()) {
    acc = c;
    return;
  }
  for (size_t b = 0; b < c.band_rows.size(); ++b) {
    for (size_t k = 0; k < c.band_rows[b].size(); ++k) acc.band_rows[b][k] = acc.band_rows[b][k] || c.band_rows[b][k];
  }
  for (size_t w = 0; w < c.whens.size(); ++w) acc.whens[w] = acc.whens[w] || c.whens[w];
}

// Runs test `t` of rule `rule_index` on one engine; returns its problems and adds what it
// exercised to `coverage`.
std::vector<std::string> RunTest(const Frontend& fe, const ast::Test& t, const source::SourceFile& src,
                                 size_t rule_index, const runtime::EngineOptions& options,
                                 runtime::Coverage& coverage) {
  const ir::Rule& rule = fe.module.rules[rule_index];
  std::vector<std::string> problems;
  auto at = [&](const source::SourceRange& r) { return fmt::format("{}:{}:{}", src.name(), r.line, r.column); };
  runtime::RecordingSink sink;
  runtime::Engine engine(fe.module, options, &sink);
  engine.EnableCoverage();
  runtime::EventDecoder decoder(fe.module, engine.interner());
  std::vector<Expect> expects;
  int n = 0;
  for (const auto& step : t.steps) {
    auto when = TestTime(fe, *step.time);
    if (!when) {
      problems.push_back(at(step.range) + ": cannot read the time of this step");
      continue;
    }
    if (step.kind != ast::TestStep::Kind::Given) {
      expects.push_back(Expect{&step, *when});
      continue;
    }
    runtime::Event event;
    if (auto reason = decoder.Decode(GivenEvent(fe, step, *when, ++n), event)) {
      problems.push_back(at(step.range) + ": this event cannot be used: " + *reason);
      continue;
    }
    if (engine.Ingest(event) == runtime::Engine::Outcome::UnknownCorrection) {
      problems.push_back(at(step.range) + ": entered_in_error for an id not given before");
    }
  }
  // The test's clock runs to its last expectation: timer points up to it are evaluated.
  int64_t until = INT64_MIN;
  for (const Expect& e : expects) until = std::max(until, e.time);
  if (until != INT64_MIN) engine.AdvanceTo(until);
  engine.Finish();
  Outcome seen = OutcomeOf(sink, rule);
  for (const Expect& e : expects) CheckExpect(rule, e, seen, at(e.step->range), problems);
  if (const runtime::Coverage* c = engine.CoverageOf(rule_index)) MergeCoverage(coverage, *c);
  return problems;
}

// Per rule with tests: how many, and the `when` clauses and band rows they exercised.
void PrintCoverage(const ir::Module& module, const std::map<size_t, int>& tests_of_rule,
                   const std::vector<runtime::Coverage>& coverage) {
  for (const auto& [r, count] : tests_of_rule) {
    const ir::Rule& rule = module.rules[r];
    const auto& c = coverage[r];
    size_t whens = 0, rows = 0, total_rows = 0;
    for (bool w : c.whens) whens += w;
    std::vector<std::string> missing;
    for (size_t i = 0; i < c.whens.size(); ++i) {
      if (!c.whens[i]) missing.push_back(fmt::format("when #{} ({})", i + 1, rule.whens[i].severity));
    }
    for (size_t b = 0; b < c.band_rows.size(); ++b) {
      for (size_t k = 0; k < c.band_rows[b].size(); ++k) {
        ++total_rows;
        rows += c.band_rows[b][k];
        if (c.band_rows[b][k]) continue;
        const ir::BandTable& table = rule.bands[b];
        missing.push_back(table.let.empty() || k >= table.rows.size()
                              ? fmt::format("bands #{} row {}", b + 1, k + 1)
                              : fmt::format("{} row `{}`", table.let, table.rows[k].text));
      }
    }
    std::cout << fmt::format("coverage {}: {} tests, when clauses {}/{}, band rows {}/{}", rule.id, count, whens,
                             rule.whens.size(), rows, total_rows);
    if (!missing.empty()) {
      std::cout << "; not exercised:";
      for (size_t i = 0; i < missing.size(); ++i) std::cout << (i ? ", " : " ") << missing[i];
    }
    std::cout << "\n";
  }
  for (size_t r = 0; r < module.rules.size(); ++r) {
    if (!tests_of_rule.count(r)) std::cout << fmt::format("coverage {}: no tests\n", module.rules[r].id);
  }
}

}  // namespace

RuleTestResults RunRuleTests(const Frontend& fe, const std::vector<std::vector<runtime::NativeBlock>>* native,
                             bool interp) {
  std::vector<std::pair<std::string, const std::vector<std::vector<runtime::NativeBlock>>*>> engines;
  if (interp) engines.emplace_back("interp", nullptr);
  if (native) engines.emplace_back("jit", native);
  std::map<std::string, size_t> rule_index;
  for (size_t i = 0; i < fe.module.rules.size(); ++i) rule_index.emplace(fe.module.rules[i].id, i);
  RuleTestResults results;
  results.coverage.resize(fe.module.rules.size());
  for (const auto& file : fe.files) {
    const auto& src = fe.sources.Get(file.file);
    for (const auto& d : file.decls) {
      if (!d.test) continue;
      const ast::Test& t = *d.test;
      auto ri = rule_index.find(t.target);
      if (ri == rule_index.end()) continue;  // the checker reported it
      ++results.tests_of_rule[ri->second];
      std::vector<std::string> problems;
      for (const auto& [engine_name, code] : engines) {
        runtime::EngineOptions options;
        if (code) options.native = *code;
        options.allowed_lateness_ms = INT64_MAX / 4;  // tests may give events in any order
        for (std::string& p : RunTest(fe, t, src, ri->second, options, results.coverage[ri->second])) {
          problems.push_back(engines.size() > 1 ? "[" + engine_name + "] " + p : p);
        }
      }
      std::string name = ast::Unquote(t.name);
      if (problems.empty()) {
        ++results.passed;
        results.lines.emplace_back(true, fmt::format("PASS {}: {}\n", t.target, name));
      } else {
        ++results.failed;
        std::string text = fmt::format("FAIL {}: {} ({}:{})\n", t.target, name, src.name(), t.range.line);
        for (const auto& p : problems) text += "  " + p + "\n";
        results.lines.emplace_back(false, std::move(text));
      }
    }
  }
  return results;
}

int TestRules(const TestOptions& o) {
  Frontend fe;
  if (int status = CompileOrReport(fe, o.paths, "cdr test"); status != kOk) return status;
  // Every test runs on each back end asked for, against the same expectations.
  std::vector<std::vector<runtime::NativeBlock>> native;
  jit::CompileStats compile_stats;
  if (o.engine != "interp") {
    if (auto err = jit::CompileModule(fe.module, o.opt, native, &compile_stats)) {
      std::cerr << "cdr test: the JIT cannot compile the rules: " << *err << "\n";
      return kFailed;
    }
  }
  RuleTestResults results = RunRuleTests(fe, o.engine != "interp" ? &native : nullptr, o.engine != "jit");
  for (const auto& [pass, text] : results.lines) {
    if (!pass || o.verbose) std::cout << text;
  }
  PrintCoverage(fe.module, results.tests_of_rule, results.coverage);
  std::string engine_line = o.engine == "interp" ? "interp" : o.engine == "jit" ? "jit" : "interp and jit, each test on both";
  if (o.engine != "interp")
    engine_line +=
        fmt::format(" (JIT at -O{}: {} rules in {:.1f} ms)", o.opt, compile_stats.rules, compile_stats.millis);
  std::cout << "engine: " << engine_line << "\n";
  std::cout << fmt::format("{} passed, {} failed\n", results.passed, results.failed);
  return results.failed ? kFailed : kOk;
}

}  // namespace cdr::driver
