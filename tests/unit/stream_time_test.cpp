// tests/unit/stream_time_test.cpp: the engine's stream time, checked against models
// written here, independently of runtime/: which events are late, whatever the grouping
// of the stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/file_host.h"
#include "runtime/stream_clock.h"
#include "stdlib/time.h"
#include "tests/unit/stream_util.h"

namespace {

using cdr::test::Generated;
using cdr::test::ShippedRules;

// A stream whose groups (consecutive events of one patient and time) have random sizes,
// mostly moving forward in time, with now and then an event from far back: some within
// the lateness, some beyond it, some just at its edge, many right after stream time moved.
std::vector<Generated> GroupedStream(uint32_t seed, int64_t lateness) {
  std::mt19937 rng(seed);
  const int64_t t0 = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z");
  const char* signals[] = {"heart_rate", "resp_rate", "sbp", "spo2"};
  std::vector<Generated> out;
  int64_t now = t0;
  int id = 0;
  while (out.size() < 400) {
    int64_t time = now;
    switch (rng() % 6) {
      case 0: now += 3600000LL * (1 + rng() % 30); time = now; break;  // a step forward, up to 30 h
      case 1: time = now - static_cast<int64_t>(rng() % static_cast<uint32_t>(2 * lateness)); break;  // back
      case 2: time = now - lateness + static_cast<int64_t>(rng() % 3) - 1; break;  // at the edge, +-1 ms
      default: now += 60000 * static_cast<int64_t>(rng() % 20); time = now; break;
    }
    std::string patient = "p" + std::to_string(rng() % 3);
    size_t group = 1 + rng() % 4;
    for (size_t k = 0; k < group; ++k) {
      nlohmann::json e;
      e["id"] = "e" + std::to_string(id++);
      e["patient"] = patient;
      e["time"] = cdr::stdlib::FormatTime(time);
      // Values within each signal's plausible range: every event is valid.
      int which = static_cast<int>(rng() % 4);
      const int lo[] = {60, 10, 80, 85}, span[] = {60, 30, 100, 16};
      e["signal"] = signals[which];
      e["value"] = lo[which] + static_cast<int>(rng() % static_cast<uint32_t>(span[which]));
      e["unit"] = which == 3 ? "%" : which == 2 ? "mm[Hg]" : "/min";
      out.push_back(Generated{time, e.dump()});
    }
  }
  return out;
}

// Every event older than the watermark at its arrival goes to the late output, and no
// other: the watermark being the latest time of the events used before it, minus the
// allowed lateness (an event exactly at the watermark is on time). The model below knows
// nothing of groups, of when the engine applies them, or of its counters.
TEST(StreamTime, AnEventOlderThanTheWatermarkAtItsArrivalIsLate) {
  const int64_t lateness = 12LL * 3600 * 1000;
  int late_total = 0, edge_on_time = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    auto events = GroupedStream(seed, lateness);
    std::set<size_t> expected_late;  // 1-based line numbers
    int64_t latest = INT64_MIN;
    for (size_t i = 0; i < events.size(); ++i) {
      bool late = latest != INT64_MIN && events[i].time < latest - lateness;
      if (late) expected_late.insert(i + 1);
      if (!late) latest = std::max(latest, events[i].time);
      if (!late && latest != INT64_MIN && events[i].time == latest - lateness) ++edge_on_time;
    }
    cdr::test::RunOptions run;
    run.lateness = lateness;
    run.max_ahead = -1;  // no hold: this law is about lateness alone
    auto r = cdr::test::Run(ShippedRules(), events, run);
    EXPECT_EQ(r.raw_dead, "") << "seed " << seed;
    std::set<size_t> actual_late;
    std::istringstream lines(r.raw_late);
    std::string line;
    while (std::getline(lines, line)) actual_late.insert(nlohmann::json::parse(line)["line"].get<size_t>());
    EXPECT_EQ(actual_late, expected_late) << "seed " << seed;
    EXPECT_EQ(r.stats.late, expected_late.size()) << "seed " << seed;
    late_total += static_cast<int>(expected_late.size());
  }
  EXPECT_GT(late_total, 100) << "the streams must hold late events for the law to mean anything";
  EXPECT_GT(edge_on_time, 5) << "events exactly at the watermark must occur";
}

// An event line at hour `hour` of 2020-03-01, recorded a minute later.
Generated Hourly(const char* id, const char* patient, int hour, const char* signal, int value, const char* unit,
                 const char* status) {
  const int64_t t = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z") + hour * 3600000LL;
  std::string s = std::string("{\"id\":\"") + id + "\",\"patient\":\"" + patient + "\",\"time\":\"" +
                  cdr::stdlib::FormatTime(t) + "\",\"recorded\":\"" + cdr::stdlib::FormatTime(t + 60000) +
                  "\",\"signal\":\"" + signal + "\",\"value\":" + std::to_string(value) + ",\"unit\":\"" + unit +
                  "\",\"status\":\"" + status + "\"}";
  return Generated{t, s};
}

// The final alerts of critical_values.
int CriticalValuesAlerts(const cdr::test::Result& r) {
  int n = 0;
  for (const auto& [id, content] : r.final_alerts) n += nlohmann::json::parse(content)["rule"] == "critical_values";
  return n;
}

// The case that escaped the check: the first event after stream time moved forward. A
// shock index of 130 / 100 at hour 0 fires critical_values; an event of another patient
// three days later moves stream time; then the heart rate of hour 0 is amended to 80.
// It is two days older than the watermark (72 h - 24 h), so it is late: the alert stands
// and the trace keeps one record for hour 0. (Before, the amendment was checked against
// the watermark of hour 0, used, retracted the alert and traced hour 0 a second time.)
TEST(StreamTime, TheFirstEventAfterStreamTimeMovesIsCheckedAgainstTheNewWatermark) {
  auto line = Hourly;
  std::vector<Generated> events = {line("hr", "p1", 0, "heart_rate", 130, "/min", "final"),
                                   line("sbp", "p1", 0, "sbp", 100, "mm[Hg]", "final"),
                                   line("other", "p2", 72, "heart_rate", 80, "/min", "final"),
                                   line("hr", "p1", 0, "heart_rate", 80, "/min", "amended")};
  cdr::test::RunOptions run;
  run.max_ahead = -1;
  auto r = cdr::test::Run(ShippedRules(), events, run);
  EXPECT_EQ(r.stats.late, 1u);
  EXPECT_NE(r.raw_late.find("\"line\":4"), std::string::npos) << r.raw_late;
  EXPECT_EQ(CriticalValuesAlerts(r), 1) << r.raw_alerts;
  EXPECT_EQ(r.stats.retracted, 0u) << r.raw_alerts;
}

// A new version of an event changes the points at its own time and at the time of the
// version it replaces. Here the heart rate of hour 0 (with a pressure of 100 there: shock
// index 1.3, critical_values fires) is amended and moved to hour 29, after stream time
// reached hour 30: its own time is within the 24 h lateness, but the version it replaces
// is before the watermark (hour 6), at a point already final. It is late: the alert and
// the trace of hour 0 stand, and the late output says why.
TEST(StreamTime, AVersionReplacingOneBeforeTheWatermarkIsLate) {
  auto line = Hourly;
  std::vector<Generated> events = {line("hr", "p1", 0, "heart_rate", 130, "/min", "final"),
                                   line("sbp", "p1", 0, "sbp", 100, "mm[Hg]", "final"),
                                   line("other", "p2", 30, "heart_rate", 80, "/min", "final"),
                                   line("hr", "p1", 29, "heart_rate", 80, "/min", "amended")};
  cdr::test::RunOptions run;
  run.max_ahead = -1;
  auto r = cdr::test::Run(ShippedRules(), events, run);
  EXPECT_EQ(r.stats.late, 1u);
  EXPECT_EQ(r.stats.used, 3u);
  EXPECT_NE(r.raw_late.find("\"reason\":\"replaces the version of its id at 2020-03-01T00:00:00Z, before the watermark at "
                            "its arrival (2020-03-01T06:00:00Z)"),
            std::string::npos)
      << r.raw_late;
  EXPECT_NE(r.raw_late.find("\"line\":4"), std::string::npos) << r.raw_late;
  EXPECT_EQ(r.stats.retracted, 0u) << r.raw_alerts;
  EXPECT_EQ(CriticalValuesAlerts(r), 1) << r.raw_alerts;
}

// The stream clock's decisions, action by action.
struct ClockRun {
  cdr::runtime::StreamClock clock;
  std::vector<std::string> log;  // "jump H", "use LINE", "quarantine LINE"
  uint64_t line = 0;
  explicit ClockRun(cdr::runtime::StreamClockOptions o) : clock(o) {}
  static int64_t H(double hours) { return static_cast<int64_t>(hours * 3600000); }
  void Offer(double hours, const std::string& patient) {
    ++line;
    int64_t t = H(hours);
    if (clock.Admits(t)) {
      clock.Admit(t);
      log.push_back("use " + std::to_string(line));
    } else {
      clock.Hold(cdr::runtime::HeldEvent{line, "", t, patient, 0});
    }
    Drain();
  }
  void Drain() {
    cdr::runtime::ClockAction a;
    while (clock.Next(a)) {
      switch (a.kind) {
        case cdr::runtime::ClockAction::Jump: log.push_back("jump " + std::to_string(a.time / 3600000.0).substr(0, 4)); break;
        case cdr::runtime::ClockAction::Release: log.push_back("use " + std::to_string(a.event.line)); break;
        case cdr::runtime::ClockAction::Quarantine: log.push_back("quarantine " + std::to_string(a.event.line)); break;
      }
    }
  }
};

// The stream starts only when two patients agree; a first event far off is not the start
// (it is used after the start, where the engine finds it late).
TEST(StreamClock, TheStreamStartsWhenTwoPatientsAgree) {
  ClockRun r({});
  r.Offer(-8760, "p9");  // a year before: a reset clock
  r.Offer(10, "p1");
  r.Offer(10.5, "p1");
  EXPECT_FALSE(r.clock.set());
  r.Offer(10.25, "p2");  // another patient within 1 h: the stream starts at 10:00
  EXPECT_EQ(r.log, (std::vector<std::string>{"jump 10.0", "use 1", "use 2", "use 3", "use 4"}));
  EXPECT_EQ(r.clock.stream_time(), ClockRun::H(10.5));
}

// A stream of one patient waits for the end of its input, then runs as it arrived; an
// event after a gap is used when it is within the allowed lateness of the stream time,
// one a year ahead is not.
TEST(StreamClock, AStreamOfOnePatientStartsAtTheEnd) {
  ClockRun r({});
  r.Offer(0, "p1");
  r.Offer(0.5, "p1");
  r.Offer(8760, "p1");  // a year ahead
  r.Offer(3, "p1");     // after a 2.5 h gap
  EXPECT_TRUE(r.log.empty());
  r.clock.Finish();
  r.Drain();
  EXPECT_EQ(r.log, (std::vector<std::string>{"jump 0.00", "use 1", "use 2", "jump 3.00", "use 4", "quarantine 3"}));
}

// After the start, an event far ahead is held until another patient agrees (the stream
// time jumps) or the stream reaches it.
TEST(StreamClock, AJumpNeedsAnotherPatient) {
  ClockRun r({});
  r.Offer(0, "p1");
  r.Offer(0.1, "p2");
  r.Offer(5, "p1");  // held: 5 h ahead
  r.Offer(5.2, "p1");  // the same patient does not corroborate itself
  r.Offer(0.5, "p2");
  r.Offer(5.1, "p3");  // another patient: the stream jumps to 5:00
  EXPECT_EQ(r.log, (std::vector<std::string>{"jump 0.00", "use 1", "use 2", "use 5", "jump 5.00", "use 3", "use 4",
                                             "use 6"}));
}

// A full hold uses what is within the allowed lateness of the stream time, then
// quarantines the event farthest ahead.
TEST(StreamClock, AFullHoldQuarantinesTheEventFarthestAhead) {
  cdr::runtime::StreamClockOptions o;
  o.max_held = 2;
  o.end_reach_ms = ClockRun::H(24);
  ClockRun r(o);
  r.Offer(0, "p1");
  r.Offer(0, "p2");
  r.Offer(9000, "p1");
  r.Offer(5, "p1");
  r.Offer(8000, "p1");  // three held: 5 h is within reach and used; then two remain
  r.Offer(7000, "p1");  // three held again, none within reach: 9000 h goes
  EXPECT_EQ(r.log, (std::vector<std::string>{"jump 0.00", "use 1", "use 2", "jump 5.00", "use 4", "quarantine 3"}));
  EXPECT_EQ(r.clock.held(), 2u);
  EXPECT_EQ(r.clock.quarantined(), 1u);
}

}  // namespace
