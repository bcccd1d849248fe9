// tests/unit/engine_property_test.cpp: laws of the event-time engine, on the shipped rule set.
//  1. For random events (some with later versions of their id) and many random arrival
//     orders within the allowed lateness, the final alert set (fires minus retractions,
//     with their content) and the trace equal those of time-sorted input.
//  2. The same input twice gives byte-identical output.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/file_host.h"
#include "stdlib/time.h"
#include "tests/unit/stream_util.h"

namespace {

using cdr::test::Generated;
using cdr::test::RandomEvents;
using cdr::test::Result;
using cdr::test::ShippedRules;

// Runs the events through the shipped rules. `switch_at` >= 0: adaptive, native code
// takes over before that event. `absurd_line` > 0: that line is an event with an absurd
// time, which must be refused (quarantined or late) with its reason, and be the only
// refusal besides removals in error that arrive before their event (reported, and kept).
// The ids of the events an alert cites as evidence.
std::set<std::string> EvidenceIds(const cdr::runtime::RecordedAlert& a) {
  std::set<std::string> ids;
  for (const auto& events : a.body.evidence) {
    for (const auto& e : events) ids.insert(e.id);
  }
  return ids;
}

Result RunEvents(const std::vector<Generated>& events, int64_t lateness, int switch_at = -1, bool expect_valid = true,
                 cdr::runtime::Emit emit = cdr::runtime::Emit::Settled, size_t absurd_line = 0) {
  cdr::test::RunOptions o;
  o.lateness = lateness;
  o.switch_at = switch_at;
  o.emit = emit;
  Result r = cdr::test::Run(ShippedRules(), events, o);
  int absurd_refused = 0;
  auto is_absurd = [&](const std::string& line, const char* reason) {
    auto j = nlohmann::json::parse(line);
    if (absurd_line == 0 || j["line"] != absurd_line) return false;
    EXPECT_NE(j["reason"].get<std::string>().find(reason), std::string::npos) << line;
    ++absurd_refused;
    return true;
  };
  std::istringstream dead(r.raw_dead), late(r.raw_late);
  std::string line;
  while (std::getline(dead, line)) {
    if (is_absurd(line, "ahead of the stream time") || !expect_valid) continue;
    EXPECT_NE(line.find("entered-in-error for an event id that is not known"), std::string::npos)
        << "generated events must all be valid: " << line;
  }
  while (std::getline(late, line)) {
    if (!is_absurd(line, "later than the allowed lateness")) ADD_FAILURE() << "arrival orders stay within the lateness: " << line;
  }
  EXPECT_EQ(absurd_refused, absurd_line ? 1 : 0) << "the absurd event of line " << absurd_line << " must be refused";
  return r;
}

// Also the law across back ends: half the arrival orders switch to native code midway.
// The versions of one id arrive shuffled too, both emission policies run, and every run
// holds one event with an absurd time (year 9999, a year ahead, 1970), anywhere in the
// stream: refused, it changes no one's alerts or trace (docs/semantics.md, "Stream time").
TEST(EngineProperty, ArrivalOrderWithinLatenessDoesNotChangeFinalAlertsOrTrace) {
  const int64_t lateness = 6LL * 3600 * 1000;
  int compared = 0, with_alerts = 0;
  uint64_t held = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    auto events = RandomEvents(seed, 300, /*versions=*/true);
    std::stable_sort(events.begin(), events.end(), [](const Generated& a, const Generated& b) { return a.time < b.time; });
    Result sorted = RunEvents(events, lateness);
    ASSERT_EQ(sorted.stats.read, sorted.stats.used);
    with_alerts += !sorted.final_alerts.empty();
    // A version of an id changes its event at its own time and at the times of the
    // versions it replaces: each arrives within the lateness of the earliest of them.
    std::map<std::string, int64_t> earliest;
    for (const auto& e : events) {
      std::string id = nlohmann::json::parse(e.line)["id"];
      auto [it, fresh] = earliest.try_emplace(id, e.time);
      if (!fresh) it->second = std::min(it->second, e.time);
    }
    std::mt19937 rng(seed * 7919);
    for (int order = 0; order < 8; ++order) {
      // Arrival key = that time + a delay below the lateness, less the hour by which a
      // version may be moved (events arrive before their times when keyed by an earlier
      // version's): no event is ever later than allowed.
      std::vector<std::pair<int64_t, size_t>> keys;
      for (size_t i = 0; i < events.size(); ++i) {
        int64_t base = earliest[nlohmann::json::parse(events[i].line)["id"].get<std::string>()];
        keys.emplace_back(base + static_cast<int64_t>(rng() % static_cast<uint32_t>(lateness - 2 * 3600000)), i);
      }
      std::sort(keys.begin(), keys.end());
      std::vector<Generated> shuffled;
      for (const auto& [k, i] : keys) shuffled.push_back(events[i]);
      // The absurd event: a heart rate of 180 (it would alert) of one of the patients or
      // of a new one, dated far ahead or in 1970.
      size_t at = rng() % (shuffled.size() + 1);
      int64_t near = shuffled[std::min(at, shuffled.size() - 1)].time;
      const int64_t absurd_times[] = {*cdr::stdlib::ParseTime("9999-06-01T00:00:00Z"), near + 365LL * 86400000,
                                      *cdr::stdlib::ParseTime("1970-01-01T00:00:00Z")};
      int64_t absurd = absurd_times[order % 3];
      std::string who = "p" + std::to_string(rng() % 5 == 4 ? 9 : rng() % 4);
      shuffled.insert(shuffled.begin() + static_cast<std::ptrdiff_t>(at),
                      Generated{absurd, "{\"id\":\"absurd\",\"patient\":\"" + who + "\",\"time\":\"" +
                                            cdr::stdlib::FormatTime(absurd) +
                                            "\",\"signal\":\"heart_rate\",\"value\":180,\"unit\":\"/min\"}"});
      // Odd orders run adaptively: the JIT takes over at a random event, so late events
      // re-evaluate points first computed by the interpreter with native code. Orders 4
      // to 7 emit eagerly.
      int switch_at = order % 2 ? static_cast<int>(rng() % events.size()) : -1;
      auto emit = order < 4 ? cdr::runtime::Emit::Settled : cdr::runtime::Emit::Eager;
      Result r = RunEvents(shuffled, lateness, switch_at, true, emit, at + 1);
      held += r.stats.held;
      EXPECT_TRUE(r.final_alerts == sorted.final_alerts)
          << "seed " << seed << " order " << order << " switch " << switch_at << " absurd at " << at + 1 << "\n"
          << cdr::test::Difference(r.final_alerts, sorted.final_alerts);
      EXPECT_TRUE(r.trace == sorted.trace) << "seed " << seed << " order " << order << " switch " << switch_at << "\n"
                                           << cdr::test::Difference(r.trace, sorted.trace);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 48);
  EXPECT_GT(with_alerts, 3) << "the generated data must produce alerts for the law to mean anything";
  EXPECT_GT(held, 48u) << "the arrival orders must make the stream clock hold events (beyond the absurd ones)";
}

// Settled emission decides a point once the stream has passed it, so time-ordered input
// (without corrections) never fires and then retracts, although one patient's events of a
// time arrive in fragments between other patients' events. Eager emission, on the same
// input, does retract (which shows the input tests something); both give the same final
// alerts and trace.
TEST(EngineProperty, SettledEmissionNeverRetractsOnTimeOrderedInput) {
  uint64_t eager_retractions = 0, settled_fires = 0;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    auto events = RandomEvents(seed, 300);
    std::stable_sort(events.begin(), events.end(), [](const Generated& a, const Generated& b) { return a.time < b.time; });
    Result settled = RunEvents(events, 6LL * 3600 * 1000, -1, true, cdr::runtime::Emit::Settled);
    Result eager = RunEvents(events, 6LL * 3600 * 1000, -1, true, cdr::runtime::Emit::Eager);
    EXPECT_EQ(settled.stats.retracted, 0u) << "seed " << seed;
    EXPECT_EQ(settled.stats.fired, settled.final_alerts.size()) << "seed " << seed;
    EXPECT_TRUE(settled.final_alerts == eager.final_alerts) << "seed " << seed << "\n"
                                                            << cdr::test::Difference(settled.final_alerts, eager.final_alerts);
    EXPECT_EQ(settled.trace, eager.trace) << "seed " << seed;
    eager_retractions += eager.stats.retracted;
    settled_fires += settled.stats.fired;
  }
  EXPECT_GT(eager_retractions, 0u) << "the input must make eager emission revise";
  EXPECT_GT(settled_fires, 20u);
}

TEST(EngineProperty, SameInputTwiceGivesByteIdenticalOutput) {
  auto events = RandomEvents(42, 400);
  std::stable_sort(events.begin(), events.end(), [](const Generated& x, const Generated& y) { return x.time < y.time; });
  Result a = RunEvents(events, 24LL * 3600 * 1000);
  Result b = RunEvents(events, 24LL * 3600 * 1000);
  EXPECT_FALSE(a.raw_alerts.empty());
  EXPECT_EQ(a.raw_alerts, b.raw_alerts);
  EXPECT_EQ(a.raw_trace, b.raw_trace);
}

// Event ids are kept apart from the stored records, in one buffer per patient that is
// compacted as eviction drops old events. A month of hourly events with 300-byte ids
// drops far more than the 8 days + 24 h kept, so it is compacted many times; afterwards
// corrections must still find their events by id, and alerts must still name them.
TEST(EngineState, EventIdsSurviveEvictionAndCompaction) {
  const int64_t t0 = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z");
  const std::string pad(300, 'x');
  auto line = [&](const std::string& id, int hour, const char* signal, const char* value, const char* unit,
                  const char* status) {
    std::string s = "{\"id\":\"" + id + "\",\"patient\":\"p\",\"time\":\"" +
                    cdr::stdlib::FormatTime(t0 + hour * 3600000LL) + "\",\"signal\":\"" + signal + "\"";
    if (*value) s += std::string(",\"value\":") + value + ",\"unit\":\"" + unit + "\"";
    if (*status) s += std::string(",\"status\":\"") + status + "\"";
    return Generated{t0 + hour * 3600000LL, s + "}"};
  };
  auto hr_id = [&](int h) { return "hr-" + std::to_string(h) + "-" + pad; };
  auto sbp_id = [&](int h) { return "sbp-" + std::to_string(h) + "-" + pad; };
  std::vector<Generated> events;
  const int last = 30 * 24;
  for (int h = 0; h < last; ++h) {
    events.push_back(line(hr_id(h), h, "heart_rate", "80", "/min", ""));
    events.push_back(line(sbp_id(h), h, "sbp", "120", "mm[Hg]", ""));
    // Two events of hour 400 removed by id at hour 420 (known: not dead-lettered; within
    // the 24 h lateness). The buffer holds about 9 days of 312-byte entries and is first
    // compacted when its dropped part exceeds its live part, at hour 410, so they were
    // moved by compaction.
    if (h == 420) {
      events.push_back(line(hr_id(400), h, "heart_rate", "", "", "entered-in-error"));
      events.push_back(line(sbp_id(400), h, "sbp", "", "", "entered-in-error"));
    }
  }
  // Shock index 130 / 100 = 1.3 >= 1.0: critical_values fires, naming both events.
  events.push_back(line(hr_id(last), last, "heart_rate", "130", "/min", ""));
  events.push_back(line(sbp_id(last), last, "sbp", "100", "mm[Hg]", ""));
  // A correction of the heart rate by id, an hour later (at 720 the heart rate is then
  // 80 of hour 719: 80 / 100 = 0.8, the alert is retracted), and, in the same group, an
  // event of 21 hours before removed by id (within the lateness): the points after each
  // change are re-evaluated.
  events.push_back(line(hr_id(last), last + 1, "heart_rate", "80", "/min", "amended"));
  events.push_back(line(sbp_id(700), last + 1, "sbp", "", "", "entered-in-error"));
  // An event older than what is kept (8 days + 24 h) was evicted: removing it by id is
  // refused as unknown. The only dead letter.
  events.push_back(line(sbp_id(last - 9 * 24 - 2), last + 1, "sbp", "", "", "entered-in-error"));
  Result r = RunEvents(events, 24LL * 3600 * 1000, -1, /*expect_valid=*/false);
  EXPECT_EQ(r.stats.dead_lettered, 1u);
  EXPECT_NE(r.raw_dead.find("\"id\\\":\\\"" + sbp_id(last - 9 * 24 - 2)), std::string::npos) << r.raw_dead;
  EXPECT_EQ(r.stats.used, events.size() - 1);
  bool fired = false, retracted = false;
  for (const auto& a : r.alerts) {
    if (a.rule->id != "critical_values") continue;
    EXPECT_EQ(a.time, t0 + last * 3600000LL);
    EXPECT_EQ(EvidenceIds(a), (std::set<std::string>{hr_id(last), sbp_id(last)})) << r.raw_alerts;
    (a.action == cdr::runtime::AlertRecord::Action::Fire ? fired : retracted) = true;
  }
  EXPECT_TRUE(fired);
  EXPECT_TRUE(retracted);
}

// The id index keys a patient's events by a 32-bit hash of their ids: two ids with the
// same hash must both be found, by corrections and by entered-in-error.
// Two event ids with the same EventIdHash (found by search: a collision within about
// 2^16 ids, by the birthday bound), and an event line maker for patient `p`.
struct CollidingIds {
  std::string a, b;
  int64_t t0 = *cdr::stdlib::ParseTime("2020-03-01T00:00:00Z");
  CollidingIds() {
    std::unordered_map<uint32_t, std::string> seen;
    for (uint64_t n = 0; b.empty(); ++n) {
      std::string id = "c-" + std::to_string(n);
      auto [it, fresh] = seen.try_emplace(cdr::runtime::EventIdHash(id), id);
      if (!fresh) a = it->second, b = id;
    }
  }
  // Runs the events (24 h lateness): every one must be used, none refused.
  static Result Run(const std::vector<Generated>& events) {
    Result r = RunEvents(events, 24LL * 3600 * 1000, -1, /*expect_valid=*/false);
    EXPECT_EQ(r.stats.dead_lettered, 0u) << r.raw_dead;
    EXPECT_EQ(r.stats.used, events.size());
    return r;
  }
  // The alerts (fires and retractions) of critical_values, in order.
  static std::vector<cdr::runtime::RecordedAlert> CriticalValues(const Result& r) {
    std::vector<cdr::runtime::RecordedAlert> out;
    for (const auto& a : r.alerts) {
      if (a.rule->id == "critical_values") out.push_back(a);
    }
    return out;
  }
  Generated Line(const std::string& id, int hour, const char* signal, const char* value, const char* unit,
                 const char* status) const {
    std::string s = "{\"id\":\"" + id + "\",\"patient\":\"p\",\"time\":\"" +
                    cdr::stdlib::FormatTime(t0 + hour * 3600000LL) + "\",\"signal\":\"" + signal + "\"";
    if (*value) s += std::string(",\"value\":") + value + ",\"unit\":\"" + unit + "\"";
    if (*status) s += std::string(",\"status\":\"") + status + "\"";
    return Generated{t0 + hour * 3600000LL, s + "}"};
  }
};

TEST(EngineState, EventIdsWithTheSameHashAreKeptApart) {
  const CollidingIds ids;
  const std::string& a = ids.a;
  const std::string& b = ids.b;
  ASSERT_NE(a, b);
  ASSERT_EQ(cdr::runtime::EventIdHash(a), cdr::runtime::EventIdHash(b));
  // Shock index 130 / 100 = 1.3 >= 1.0 at hour 0: critical_values fires, naming both.
  // At hour 1 the pressure is amended by its id to 140 (130 / 140 < 1: retracted), then
  // the heart rate is removed by its id. Neither correction may be refused as unknown.
  std::vector<Generated> events = {ids.Line(a, 0, "heart_rate", "130", "/min", ""),
                                   ids.Line(b, 0, "sbp", "100", "mm[Hg]", ""),
                                   ids.Line(b, 1, "sbp", "140", "mm[Hg]", "amended"),
                                   ids.Line(a, 2, "heart_rate", "", "", "entered-in-error")};
  Result r = CollidingIds::Run(events);
  int fired = 0, retracted = 0;
  for (const auto& alert : CollidingIds::CriticalValues(r)) {
    EXPECT_EQ(EvidenceIds(alert), (std::set<std::string>{a, b})) << r.raw_alerts;
    ++(alert.action == cdr::runtime::AlertRecord::Action::Fire ? fired : retracted);
  }
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(retracted, 1);
}

// The second of two ids with the same hash is amended to another time: its earlier event
// must go (found by its text, since the other id holds the hash's slot). Shock index
// 130 / 100 = 1.3 at hour 0 fires; moving the pressure to hour 2 (130 / 140 < 1) leaves
// hour 0 without one, so that alert is retracted and none stands at the end.
TEST(EngineState, AnIdSharingAHashIsAmendedByItsText) {
  const CollidingIds ids;
  std::vector<Generated> events = {ids.Line(ids.a, 0, "heart_rate", "130", "/min", ""),
                                   ids.Line(ids.b, 0, "sbp", "100", "mm[Hg]", ""),
                                   ids.Line(ids.b, 2, "sbp", "140", "mm[Hg]", "amended")};
  Result r = CollidingIds::Run(events);
  int fired = 0, retracted = 0;
  for (const auto& alert : CollidingIds::CriticalValues(r)) {
    ++(alert.action == cdr::runtime::AlertRecord::Action::Fire ? fired : retracted);
  }
  EXPECT_EQ(fired, 1) << r.raw_alerts;
  EXPECT_EQ(retracted, 1) << r.raw_alerts;
  EXPECT_TRUE(r.final_alerts.empty()) << r.raw_alerts;
}

// The two ids name two pressures of the same list at the same time: the second must not
// take the first's slot (an earlier version checked the slot after storing the second
// event, found an event of that id at the slot's list and time, and overwrote the first's
// entry). The first is removed in error, the second moved to hour 2: hour 0 is left with
// no pressure, so its alert (130 / 100 or 130 / 120, both >= 1) is retracted.
TEST(EngineState, IdsSharingAHashAtOneTimeKeepTheirOwnEntries) {
  const CollidingIds ids;
  std::vector<Generated> events = {ids.Line("hr", 0, "heart_rate", "130", "/min", ""),
                                   ids.Line(ids.a, 0, "sbp", "100", "mm[Hg]", ""),
                                   ids.Line(ids.b, 0, "sbp", "120", "mm[Hg]", ""),
                                   ids.Line(ids.a, 1, "sbp", "", "", "entered-in-error"),
                                   ids.Line(ids.b, 2, "sbp", "140", "mm[Hg]", "amended")};
  Result r = CollidingIds::Run(events);
  EXPECT_TRUE(r.final_alerts.empty()) << r.raw_alerts;
}

}  // namespace
