// tests/unit/sustained_test.cpp: `C for D` against brute force. With events and windows
// on a minute grid, C can change only at whole minutes, so `C for D` holds at t exactly
// when C holds at every minute of [t - D, t]. A second rule evaluates C itself at every
// minute (a tick signal gives it a point there); the `for` rule's value at each of its
// points (its events and timer points) must equal what those minutes say. This checks the
// change instants `for` looks at (windows entered and left, lets, nested `for`, absence)
// and that a timer point comes where the condition starts to hold long enough.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
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

std::string Rules(const Case& c) {
  std::string head = "  owner \"tests\"\n  status draft\n  cites \"docs/semantics.md\"\n  uses s\n\n  ";
  return std::string("schema s version \"1.0.0\"\n  signal hr : quantity '/min' plausible 0 .. 300\n"
                     "  signal rr : quantity '/min' plausible 0 .. 80\n  signal tick : quantity '1'\n\n") +
         "rule held version \"1.0.0\"\n  title \"t\"\n" + head + c.lets + "let v = " + c.condition +
         " for 10min\n  when v alert low \"v\"\n\n" + "rule each_minute version \"1.0.0\"\n  title \"t\"\n" + head + c.lets +
         "let c = " + (c.alone ? c.alone : c.condition) + "\n  let ticked = exists(tick within 1min)\n  when c and ticked alert low \"c\"\n";
}

class Sustained : public ::testing::TestWithParam<Case> {};

TEST_P(Sustained, HoldsExactlyWhenTheConditionHeldAtEveryMinute) {
  const Case& c = GetParam();
  cdr::driver::Frontend fe;
  fe.AddText("rules.cdr", Rules(c));
  fe.Check();
  ASSERT_TRUE(fe.Lower()) << cdr::diag::FormatText(fe.diags);
  const int64_t t0 = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z");
  const int minutes = 8 * 60;
  int checked = 0, held = 0, not_held = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    std::string input;
    auto line = [&](const std::string& id, const char* signal, int minute, int value) {
      input += "{\"id\":\"" + id + "\",\"patient\":\"p\",\"time\":\"" + cdr::stdlib::FormatTime(t0 + minute * 60000LL) +
               "\",\"signal\":\"" + signal + "\",\"value\":" + std::to_string(value) + ",\"unit\":\"" +
               (std::string(signal) == "tick" ? "1" : "/min") + "\"}\n";
    };
    for (int m = 0; m <= minutes; ++m) {
      // Heart rates in runs (high, then low), so conditions hold for a while.
      if (rng() % 6 == 0) line("hr" + std::to_string(m), "hr", m, (m / 40) % 2 ? 80 + static_cast<int>(rng() % 25) : 96 + static_cast<int>(rng() % 30));
      if (rng() % 25 == 0) line("rr" + std::to_string(m), "rr", m, 16);
      line("t" + std::to_string(m), "tick", m, 1);
    }
    std::istringstream in(input);
    std::ostringstream alerts, trace, dead, late;
    cdr::runtime::EngineOptions options;
    options.clock.max_ahead_ms = -1;
    cdr::runtime::RunFileHost(fe.module, in, {&alerts, &trace, &dead, &late}, options);
    ASSERT_EQ(dead.str(), "");
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
      if (t < t0 + 10 * 60000) continue;  // the first minutes look before the data
      bool expected = true;
      for (int64_t m = t - 10 * 60000; m <= t; m += 60000) expected = expected && at_minute.at(m);
      EXPECT_EQ(value, expected) << c.name << " seed " << seed << " at " << cdr::stdlib::FormatTime(t);
      ++checked;
      (expected ? held : not_held)++;
    }
    // Every minute where C had held for 10 minutes is in a stretch that started at a point of
    // the `for` rule: a timer point (or an event) came when it had held long enough.
    for (int m = 10; m <= minutes; ++m) {
      int64_t t = t0 + m * 60000LL;
      bool long_enough = true;
      for (int64_t k = t - 10 * 60000; k <= t; k += 60000) long_enough = long_enough && at_minute.at(k);
      bool before = m > 10;
      for (int64_t k = t - 11 * 60000; k <= t - 60000 && before; k += 60000) before = at_minute.at(k);
      bool started = m > 10 && long_enough && !before;
      if (started) {
        EXPECT_TRUE(v.count(t) && v.at(t))
            << c.name << " seed " << seed << ": no point where `for` starts to hold, " << cdr::stdlib::FormatTime(t);
      }
    }
  }
  EXPECT_GT(held, 3) << c.name;
  EXPECT_GT(not_held, 3) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Forms, Sustained, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
