// tests/unit/reload_test.cpp: a host that swaps rule set A for rule set B at event k.
//  1. For the points after the reload, the final alerts of B's rules are those of B run
//     from the start (the law of docs/operations.md, "Reloading rules").
//  2. A rule whose hash is unchanged writes exactly what it writes without the reload:
//     its points, alerts and suppression are kept.
//  3. A changed schema (a signal's unit) is refused, and the running rules go on.
//  4. The versions in force of a list the new rules no longer read stay in force.
//  5. A rule moved from shadow to live (governance, same hash) is a changed rule: its
//     alerts so far stay in the shadow output, its alerts over the kept history are written
//     live as backfill, and no retraction reaches an output its fire did not.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/driver/frontend.h"
#include "runtime/file_host.h"
#include "tests/unit/stream_util.h"

namespace {

using cdr::test::Generated;
using cdr::test::RandomEvents;
using cdr::test::ShippedRules;
namespace rt = cdr::runtime;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// B: NEWS2 changed (a lower threshold, version 1.0.1), so overdue_observations, which reads
// its score, changes too; SIRS removed; a new tachycardia rule; the rest unchanged.
const cdr::ir::Module& RulesB() {
  static cdr::driver::Frontend* fe = [] {
    auto* f = new cdr::driver::Frontend();
    const std::string dir = std::string(CDR_SOURCE_DIR) + "/rules/";
    f->Load({dir + "schema/vitals.cdr", dir + "schema/labs.cdr", dir + "schema/orders.cdr", dir + "ruleset.cdr"});
    for (const char* name : {"critical_values", "kdigo_aki", "overdue_observations", "qsofa", "sepsis3_suspected_infection"}) {
      f->AddText(dir + name + ".cdr", ReadFile(dir + name + ".cdr"));
    }
    std::string news2 = ReadFile(dir + "news2.cdr");
    auto replace = [&](const std::string& a, const std::string& b) {
      auto at = news2.find(a);
      EXPECT_NE(at, std::string::npos) << a;
      if (at != std::string::npos) news2.replace(at, a.size(), b);
    };
    replace("rule news2 version \"1.0.0\"", "rule news2 version \"1.0.1\"");
    replace("when score >= 5 alert high", "when score >= 4 alert high");
    f->AddText(dir + "news2.cdr", news2);
    const std::string added = std::string(CDR_SOURCE_DIR) + "/tests/data/rules/tachycardia.cdr";
    f->AddText(added, ReadFile(added));
    f->Check();
    EXPECT_EQ(f->diags.error_count(), 0u) << cdr::diag::FormatText(f->diags);
    f->Lower();
    return f;
  }();
  return fe->module;
}

// The final alerts (fires minus retractions, backfill fires included) by alert id.
std::map<std::string, rt::RecordedAlert> FinalAlerts(const std::vector<rt::RecordedAlert>& alerts) {
  std::map<std::string, rt::RecordedAlert> out;
  for (const auto& a : alerts) {
    if (a.action == rt::AlertRecord::Action::Fire) {
      out.insert_or_assign(a.id, a);
    } else {
      out.erase(a.id);
    }
  }
  return out;
}

// The alert lines of one rule, in order.
std::string LinesOf(const std::string& lines, const std::string& rule) {
  std::istringstream in(lines);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find("\"rule\":\"" + rule + "\"") != std::string::npos) out += line + "\n";
  }
  return out;
}

struct Outcome {
  std::string alerts;                              // the JSON lines
  std::vector<rt::RecordedAlert> records;  // the same alerts, as records
  int64_t reloaded_at = INT64_MIN;  // the stream time at the reload
};

// Runs `input` with `a`; after line `k` (0: never), swaps in `b`.
Outcome RunWithReload(const cdr::ir::Module& a, const cdr::ir::Module* b, const std::string& input, size_t k,
                  rt::Emit emit, int64_t lateness) {
  Outcome r;
  std::ostringstream alerts;
  rt::JsonLinesSink json({&alerts});
  rt::RecordingSink records(/*trace=*/false);
  cdr::test::TeeSink sink(json, records);
  rt::EngineOptions options;
  options.emit = emit;
  options.allowed_lateness_ms = lateness;
  size_t lines = 0;
  rt::FileHost* host = nullptr;
  rt::HostOutputs out{&sink, {}, {}, {}};
  out.after_line = [&] {
    if (b && ++lines == k) {
      std::string error;
      EXPECT_TRUE(host->Reload(*b, {}, error)) << error;
      r.reloaded_at = host->engine().stream_time();
    }
    return true;
  };
  rt::FileHost h(a, out, options);
  host = &h;
  std::istringstream in(input);
  h.Run(rt::StreamSource(in));
  r.alerts = alerts.str();
  r.records = std::move(records.alerts);
  return r;
}

TEST(Reload, AfterTheReloadTheFinalAlertsAreThoseOfTheNewRulesRunFromTheStart) {
  const int64_t lateness = 6LL * 3600 * 1000;
  int compared = 0, backfilled = 0, after = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    auto events = cdr::test::ArrivalOrder(RandomEvents(seed, 500, /*versions=*/true), seed, lateness / 2);
    std::string input;
    for (const auto& e : events) input += e.line + "\n";
    const size_t lines = events.size();
    for (auto emit : {rt::Emit::Settled, rt::Emit::Eager}) {
      const Outcome a = RunWithReload(ShippedRules(), nullptr, input, 0, emit, lateness);
      const Outcome b = RunWithReload(RulesB(), nullptr, input, 0, emit, lateness);
      const auto final_b = FinalAlerts(b.records);
      // The same rules reloaded: nothing changes, byte for byte.
      for (size_t k : {size_t{1}, lines / 2}) {
        EXPECT_EQ(RunWithReload(RulesB(), &RulesB(), input, k, emit, lateness).alerts, b.alerts) << "B to B at " << k;
      }
      for (size_t k : {size_t{1}, lines / 3, lines / 2, lines - 1}) {
        const Outcome r = RunWithReload(ShippedRules(), &RulesB(), input, k, emit, lateness);
        backfilled += r.alerts.find("\"backfill\":true") != std::string::npos;
        // 1. After the reload: B's final alerts, as if B had always run.
        // Compared as the JSON of the alert as fired (not marked backfill), for messages.
        auto after_reload = [&](const std::map<std::string, rt::RecordedAlert>& all) {
          std::map<std::string, std::string> kept;
          for (const auto& [id, a] : all) {
            bool b_rule = std::any_of(RulesB().rules.begin(), RulesB().rules.end(), [&](const cdr::ir::Rule& rule) {
              return rule.id == a.rule->id && rule.version == a.rule->version;
            });
            if (!b_rule || a.time <= r.reloaded_at) continue;
            rt::AlertRecord fired = a.View();
            fired.backfill = false;
            rt::AppendAlertJson(kept[id], fired);
          }
          return kept;
        };
        auto got = after_reload(FinalAlerts(r.records)), want = after_reload(final_b);
        after += static_cast<int>(want.size());
        EXPECT_TRUE(got == want) << "seed " << seed << " k " << k << " eager " << (emit == rt::Emit::Eager) << "\n"
                                 << cdr::test::Difference(got, want);
        // 2. Unchanged rules write exactly what they write without a reload.
        for (const char* rule : {"critical_values", "kdigo_aki", "qsofa", "sepsis3_suspected_infection"}) {
          EXPECT_EQ(LinesOf(r.alerts, rule), LinesOf(a.alerts, rule)) << rule << " seed " << seed << " k " << k;
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 32);
  EXPECT_GT(backfilled, 8) << "the changed and new rules must backfill alerts";
  EXPECT_GT(after, 30) << "the law needs alerts after the reloads to mean anything";
}

TEST(Reload, ASignalWhoseUnitChangedIsRefusedAndTheRunningRulesGoOn) {
  cdr::driver::Frontend fe;
  const std::string dir = std::string(CDR_SOURCE_DIR) + "/rules/";
  std::string vitals = ReadFile(dir + "schema/vitals.cdr");
  auto at = vitals.find("signal heart_rate");
  ASSERT_NE(at, std::string::npos);
  auto unit = vitals.find("'/min'", at);
  ASSERT_NE(unit, std::string::npos);
  vitals.replace(unit, 6, "'/h'");
  fe.AddText(dir + "schema/vitals.cdr", vitals);
  fe.Load({dir + "schema/labs.cdr", dir + "schema/orders.cdr", dir + "ruleset.cdr", dir + "qsofa.cdr"});
  fe.Check();
  fe.Lower();
  ASSERT_EQ(fe.diags.error_count(), 0u) << cdr::diag::FormatText(fe.diags);
  std::ostringstream alerts;
  rt::JsonLinesSink sink({&alerts});
  rt::FileHost* host = nullptr;
  std::string error;
  bool refused = false;
  rt::HostOutputs out{&sink, {}, {}, {}};
  size_t lines = 0;
  out.after_line = [&] {
    if (++lines == 50) refused = !host->Reload(fe.module, {}, error);
    return true;
  };
  rt::FileHost h(ShippedRules(), out, {});
  host = &h;
  std::string input;
  for (const auto& e : RandomEvents(3, 300)) input += e.line + "\n";
  std::istringstream in(input);
  h.Run(rt::StreamSource(in));
  EXPECT_TRUE(refused);
  EXPECT_NE(error.find("heart_rate changed its unit '/min' to '/h'"), std::string::npos) << error;
  EXPECT_EQ(alerts.str(), RunWithReload(ShippedRules(), nullptr, input, 0, rt::Emit::Settled, 24LL * 3600 * 1000).alerts);
}

// A list the new rules no longer read keeps its versions in force (in the withdrawn list,
// docs/semantics.md): an older version of one of its ids, recoded to a signal the new rules
// read, stays out, and an id of its own is read.
TEST(Reload, TheVersionsOfAListNoLongerReadStayInForce) {
  const std::string dir = std::string(CDR_SOURCE_DIR) + "/rules/";
  const std::string tachycardia = std::string(CDR_SOURCE_DIR) + "/tests/data/rules/tachycardia.cdr";
  auto load = [&](cdr::driver::Frontend& f, bool potassium) {
    f.Load({dir + "schema/vitals.cdr", dir + "schema/labs.cdr", dir + "ruleset.cdr", tachycardia});
    if (potassium) {
      f.AddText("hyperkalaemia.cdr",
                "rule hyperkalaemia version \"1.0.0\" title \"K\" owner \"Test\" status review cites \"A test rule\"\n"
                "  uses labs\n"
                "  let k = last(potassium within 1h)\n"
                "  when k > 6 'mmol/L' alert high \"potassium {k}\"\n");
    }
    f.Check();
    EXPECT_EQ(f.diags.error_count(), 0u) << cdr::diag::FormatText(f.diags);
    f.Lower();
  };
  cdr::driver::Frontend a, b;
  load(a, true);
  load(b, false);
  auto line = [](const char* patient, const char* id, const char* time, const char* recorded, const char* code,
                 const char* value) {
    return fmt::format(R"({{"id":"{}","patient":"{}","time":"2024-01-01T{}Z","recorded":"2024-01-01T{}Z",)"
                       R"("code":{{"system":"http://loinc.org","code":"{}"}},{}}})",
                       id, patient, time, recorded, code, value) + "\n";
  };
  const char* hr = "8867-4";
  const std::string input =
      // Two patients first: the stream clock takes the stream time from them.
      line("p0", "y1", "09:59:00", "09:59:00", hr, R"("value":80,"unit":"/min")") +
      line("p2", "y2", "10:00:00", "10:00:00", hr, R"("value":80,"unit":"/min")") +
      line("p1", "x1", "10:00:00", "10:00:00", "2823-3", R"("value":4.0,"unit":"mmol/L")") +
      // After the reload. Recorded before the version in force: superseded, though its
      // signal is read now.
      line("p1", "x1", "10:00:00", "09:00:00", hr, R"("value":150,"unit":"/min")") +
      line("p1", "x2", "11:00:00", "11:00:00", hr, R"("value":150,"unit":"/min")");
  std::ostringstream alerts;
  rt::JsonLinesSink sink({&alerts});
  rt::FileHost* host = nullptr;
  size_t lines = 0;
  rt::HostOutputs out{&sink, {}, {}, {}};
  out.after_line = [&] {
    std::string error;
    if (++lines == 3) {
      EXPECT_TRUE(host->Reload(b.module, {}, error)) << error;
    }
    return true;
  };
  rt::FileHost h(a.module, out, {});
  host = &h;
  std::istringstream in(input);
  const rt::HostStats stats = h.Run(rt::StreamSource(in));
  EXPECT_EQ(stats.superseded, 1u);
  // One alert: x2's, at 11:00 (x1 at 10:00 would have fired, and suppressed x2's).
  const std::string written = alerts.str();
  ASSERT_EQ(std::count(written.begin(), written.end(), '\n'), 1) << written;
  EXPECT_NE(written.find("\"time\":\"2024-01-01T11:00:00Z\""), std::string::npos) << written;
}

TEST(Reload, ARuleMovedFromShadowToLiveIsAChangedRule) {
  cdr::ir::Module shadowed = ShippedRules(), live = ShippedRules();
  size_t moved = 0;
  for (auto& r : shadowed.rules) {
    if (r.id == "news2") {
      r.shadow = true;
      ++moved;
    }
  }
  ASSERT_EQ(moved, 1u);
  std::string input;
  for (const auto& e : RandomEvents(7, 400)) input += e.line + "\n";
  std::ostringstream alerts, shadow;
  rt::JsonStreams streams{&alerts};
  streams.shadow = &shadow;
  rt::JsonLinesSink sink(streams);
  rt::FileHost* host = nullptr;
  size_t lines = 0, shadow_at_reload = 0;
  std::string error;
  rt::HostOutputs out{&sink, {}, {}, {}};
  out.after_line = [&] {
    if (++lines == 200) {
      shadow_at_reload = shadow.str().size();
      EXPECT_TRUE(host->Reload(live, {}, error)) << error;
      const auto& changed = host->engine().reload_summary().changed;
      EXPECT_NE(std::find(changed.begin(), changed.end(), "news2"), changed.end()) << "news2 was kept";
    }
    return true;
  };
  rt::FileHost h(shadowed, out, {});
  host = &h;
  std::istringstream in(input);
  h.Run(rt::StreamSource(in));
  EXPECT_GT(shadow_at_reload, 0u) << "news2 alerted in shadow before the reload";
  EXPECT_EQ(shadow.str().size(), shadow_at_reload) << "nothing goes to the shadow output after news2 went live";
  const std::string news2 = LinesOf(alerts.str(), "news2");
  EXPECT_NE(news2.find("\"backfill\":true"), std::string::npos) << "its alerts over the kept history, written live";
  std::set<std::string> fired;
  std::istringstream lines_in(news2);
  for (std::string line; std::getline(lines_in, line);) {
    auto a = nlohmann::json::parse(line);
    if (a["action"] == "fire") fired.insert(a["alert"].get<std::string>());
    if (a["action"] == "retract") {
      EXPECT_TRUE(fired.count(a["alert"].get<std::string>())) << "a retraction without its fire: " << line;
    }
  }
}

}  // namespace
