// tests/unit/sustained_test.cpp: `C for D` against brute force. With events and windows
// on a minute grid, C can change only at whole minutes, so `C for D` holds at t exactly
// when C holds at every minute of [t - D, t]. A second rule evaluates C itself at every
// minute (a tick signal gives it a point there); the `for` rule's value at each of its
// points (its events and timer points) must equal what those minutes say. This checks the
// change instants `for` looks at (windows entered and left, lets, nested `for`, absence)
// and that a timer point comes where the condition starts to hold long enough.
// Each form runs with D = 10 minutes (a window of few change instants, evaluated afresh
// at each point) and D = 3 hours (hundreds of instants: the engine's SustainedMemo
// answers), on input in time order and on input shuffled within the allowed lateness
// with corrections arriving after the value they replace (what the memo learned must be
// forgotten from each change on).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "stdlib/time.h"

namespace {

struct Case {
  const char* name;
  const char* lets;  // lets before `c`, if any
  const char* condition;
  const char* alone = nullptr;  // the condition outside `for`, when written otherwise there
};

const Case kCases[] = {
    {"last", "", "last(hr within 20min) > 100 '/min'"},
    {"min", "", "min(hr within 15min) > 90 '/min'"},
    {"count", "", "count(hr within 30min) < 3"},
    {"absence", "", "no rr within 10min"},  // also: the window ends at its literal, before `for`
    {"let", "let spread = max(hr within 25min) - min(hr within 25min)\n  ", "spread < 20 '/min'"},
    {"bare", "", "hr > 95 '/min'", "last(hr) > 95 '/min'"},  // a bare signal in `for`: its latest value
    {"nested", "", "(last(hr within 20min) > 100 '/min' for 5min)"},
};

std::string Rules(const Case& c, int for_minutes) {
  std::string head = "  owner \"tests\"\n  status draft\n  cites \"docs/semantics.md\"\n  uses s\n\n  ";
  return std::string("schema s version \"1.0.0\"\n  signal hr : quantity '/min' plausible 0 .. 300\n"
                     "  signal rr : quantity '/min' plausible 0 .. 80\n  signal tick : quantity '1'\n\n") +
         "rule held version \"1.0.0\"\n  title \"t\"\n" + head + c.lets + "let v = " + c.condition +
         " for " + std::to_string(for_minutes) + "min\n  when v alert low \"v\"\n\n" + "rule each_minute version \"1.0.0\"\n  title \"t\"\n" + head + c.lets +
         "let c = " + (c.alone ? c.alone : c.condition) + "\n  let ticked = exists(tick within 1min)\n  when c and ticked alert low \"c\"\n";
}

struct Arrival {
  int for_minutes;
  bool shuffled;  // arrival out of time order, with corrections
};

class Sustained : public ::testing::TestWithParam<std::tuple<Case, Arrival>> {};

TEST_P(Sustained, HoldsExactlyWhenTheConditionHeldAtEveryMinute) {
  const Case& c = std::get<0>(GetParam());
  const Arrival run = std::get<1>(GetParam());
  const int64_t d = run.for_minutes * 60000LL;
  cdr::driver::Frontend fe;
  fe.AddText("rules.cdr", Rules(c, run.for_minutes));
  fe.Check();
  ASSERT_TRUE(fe.Lower()) << cdr::diag::FormatText(fe.diags);
  const int64_t t0 = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z");
  // D = 3 hours: phases of 4 hours, busy (a high heart rate every 2 minutes or so, a
  // respiratory rate now and then) and quiet (a low heart rate every 40 minutes or so, no
  // respiratory rate), so that each form holds for D in some phases and not in others.
  const bool long_d = run.for_minutes >= 60;
  const int minutes = long_d ? 4 * 240 : 8 * 60;
  int checked = 0, held = 0, not_held = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    // Lines with their arrival key: the event's minute, or later for a shuffled one.
    std::vector<std::pair<int, std::string>> lines_out;
    auto line = [&](const std::string& id, const char* signal, int minute, int value, int recorded_after = 0) {
      int arrival = minute + recorded_after + (run.shuffled ? static_cast<int>(rng() % 90) : 0);
      lines_out.emplace_back(arrival, "{\"id\":\"" + id + "\",\"patient\":\"p\",\"time\":\"" +
                                          cdr::stdlib::FormatTime(t0 + minute * 60000LL) + "\",\"recorded\":\"" +
                                          cdr::stdlib::FormatTime(t0 + (minute + recorded_after) * 60000LL) +
                                          "\",\"signal\":\"" + signal + "\",\"value\":" + std::to_string(value) +
                                          ",\"unit\":\"" + (std::string(signal) == "tick" ? "1" : "/min") + "\"}\n");
    };
    for (int m = 0; m <= minutes; ++m) {
      // D = 10 minutes: heart rates in runs (high, then low), so conditions hold for a while.
      const bool busy = long_d ? (m / 240) % 2 == 0 : true;
      auto hr = [&] {
        if (long_d) return busy ? 101 + static_cast<int>(rng() % 15) : 60 + static_cast<int>(rng() % 31);
        return (m / 40) % 2 ? 80 + static_cast<int>(rng() % 25) : 96 + static_cast<int>(rng() % 30);
      };
      if (rng() % (!long_d ? 6 : busy ? 2 : 40) == 0) {
        line("hr" + std::to_string(m), "hr", m, hr());
        // A correction, recorded later: it replaces the value from its arrival on.
        if (run.shuffled && rng() % 10 == 0) line("hr" + std::to_string(m), "hr", m, hr(), 1 + static_cast<int>(rng() % 30));
        // D = 3 hours: a value of the other phase, withdrawn by a third version (the
        // final values keep their phase, but what was learned from the second must go).
        if (long_d && run.shuffled && rng() % 4 == 0) {
          int r = 1 + static_cast<int>(rng() % 30);
          line("hr" + std::to_string(m), "hr", m, busy ? 70 : 110, r);
          line("hr" + std::to_string(m), "hr", m, hr(), r + 1 + static_cast<int>(rng() % 30));
        }
      }
      if (rng() % 25 == 0 && busy) line("rr" + std::to_string(m), "rr", m, 16);
      line("t" + std::to_string(m), "tick", m, 1);
    }
    std::stable_sort(lines_out.begin(), lines_out.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string input;
    for (const auto& [arrival, text] : lines_out) input += text;
    std::istringstream in(input);
    std::ostringstream alerts, trace, dead, late;
    cdr::runtime::JsonLinesSink sink({&alerts, &trace, &dead, &late});
    cdr::runtime::EngineOptions options;
    options.clock.max_ahead_ms = -1;
    // Points are final (traced) 3 hours behind the stream, while the memo still holds
    // what it learned there: the trace checks what it answers after each change.
    options.allowed_lateness_ms = 3 * 3600000LL;
    cdr::runtime::RunFileHost(fe.module, in, {&sink, {}, {}, {}}, options);
    ASSERT_EQ(dead.str(), "");
    ASSERT_EQ(late.str(), "");  // the shuffle stays within the allowed lateness
    // The JIT gives the same alerts and trace.
    for (const auto& rule : fe.module.rules) {
      options.native.emplace_back();
      ASSERT_EQ(cdr::jit::Compile(rule, 2, options.native.back()), std::nullopt);
    }
    std::istringstream again(input);
    std::ostringstream native_alerts, native_trace, native_dead, native_late;
    cdr::runtime::JsonLinesSink native_sink({&native_alerts, &native_trace, &native_dead, &native_late});
    cdr::runtime::RunFileHost(fe.module, again, {&native_sink, {}, {}, {}}, options);
    ASSERT_EQ(native_alerts.str(), alerts.str()) << c.name << " seed " << seed;
    ASSERT_EQ(native_trace.str(), trace.str()) << c.name << " seed " << seed;
    std::map<int64_t, bool> v, at_minute;  // time -> the `for` rule's value; C at each minute
    std::istringstream lines(trace.str());
    std::string text;
    while (std::getline(lines, text)) {
      auto j = nlohmann::json::parse(text);
      int64_t t = *cdr::stdlib::ParseTime(j["time"].get<std::string>());
      if (j["rule"] == "held") v[t] = j["values"]["v"] == true;
      if (j["rule"] == "each_minute") at_minute[t] = j["values"]["c"] == true;
    }
    ASSERT_EQ(at_minute.size(), static_cast<size_t>(minutes + 1));
    for (const auto& [t, value] : v) {
      if (t < t0 + d) continue;  // the first minutes look before the data
      bool expected = true;
      for (int64_t m = t - d; m <= t; m += 60000) expected = expected && at_minute.at(m);
      EXPECT_EQ(value, expected) << c.name << " seed " << seed << " at " << cdr::stdlib::FormatTime(t);
      ++checked;
      (expected ? held : not_held)++;
    }
    // Every minute where C had held for 10 minutes is in a stretch that started at a point of
    // the `for` rule: a timer point (or an event) came when it had held long enough.
    for (int m = run.for_minutes; m <= minutes; ++m) {
      int64_t t = t0 + m * 60000LL;
      bool long_enough = true;
      for (int64_t k = t - d; k <= t; k += 60000) long_enough = long_enough && at_minute.at(k);
      bool before = m > run.for_minutes;
      for (int64_t k = t - d - 60000; k <= t - 60000 && before; k += 60000) before = at_minute.at(k);
      bool started = m > run.for_minutes && long_enough && !before;
      if (started) {
        EXPECT_TRUE(v.count(t) && v.at(t))
            << c.name << " seed " << seed << ": no point where `for` starts to hold, " << cdr::stdlib::FormatTime(t);
      }
    }
  }
  EXPECT_GT(held, 3) << c.name;
  EXPECT_GT(not_held, 3) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Forms, Sustained,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Arrival{10, false}, Arrival{10, true}, Arrival{180, false},
                                                              Arrival{180, true})),
                         [](const ::testing::TestParamInfo<std::tuple<Case, Arrival>>& info) {
                           const Arrival& r = std::get<1>(info.param);
                           return std::string(std::get<0>(info.param).name) + "_for" + std::to_string(r.for_minutes) +
                                  (r.shuffled ? "_shuffled" : "_in_order");
                         });

}  // namespace
