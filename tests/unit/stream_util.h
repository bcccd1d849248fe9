// tests/unit/stream_util.h: running event lines through the file host for the engine's
// property tests: the shipped rules (and their native code), and the outputs of a run
// reduced to what the laws compare (final alerts, sorted trace).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <type_traits>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "runtime/sink.h"
#include "stdlib/time.h"

namespace cdr::test {

/// One event line and its event time.
struct Generated {
  int64_t time;
  std::string line;
};

inline const ir::Module& ShippedRules() {
  static driver::Frontend* fe = [] {
    auto* f = new driver::Frontend();
    std::string error;
    f->Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error);
    EXPECT_EQ(f->diags.error_count(), 0u) << diag::FormatText(f->diags);
    return f;
  }();
  return fe->module;
}

/// The shipped rules as native code (the JIT at -O2), compiled once.
inline const std::vector<std::vector<runtime::NativeBlock>>& NativeRules() {
  static const auto* code = [] {
    auto* c = new std::vector<std::vector<runtime::NativeBlock>>();
    auto err = jit::CompileModule(ShippedRules(), 2, *c);
    EXPECT_FALSE(err) << *err;
    return c;
  }();
  return *code;
}

// `count` random events of 4 patients over 4 days, on a 15-minute grid (so panels
// happen). With `versions`, some events get later versions of their id: an amendment
// (now and then moved in time), a removal in error, or both, each recorded later than
// the one before (an amendment and a removal may share their `recorded` time: the
// removal ranks higher), so that their order of arrival must not matter.
inline std::vector<Generated> RandomEvents(uint32_t seed, int count, bool versions = false) {
  std::mt19937 rng(seed);
  const int64_t t0 = *stdlib::ParseTime("2020-03-01T00:00:00Z");
  struct Source {
    const char* signal;
    const char* unit;  // empty: no value
    int lo, hi;        // value range (tenths for decimals)
    bool decimal;
  };
  const std::vector<Source> sources = {
      {"heart_rate", "/min", 35, 160, false}, {"resp_rate", "/min", 6, 35, false},  {"temp", "Cel", 340, 405, true},
      {"spo2", "%", 85, 100, false},          {"sbp", "mm[Hg]", 70, 230, false},    {"fio2", "1", 3, 10, true},
      {"gcs", "", 3, 15, false},              {"creatinine", "mg/dL", 5, 60, true}, {"potassium", "mmol/L", 30, 70, true},
      {"glucose", "mg/dL", 40, 300, false},   {"lactate", "mmol/L", 5, 80, true},   {"wbc", "10*3/uL", 10, 250, true},
      {"paco2", "mm[Hg]", 20, 60, false},     {"culture_drawn", "", 0, 0, false},    {"antibiotic_started", "", 0, 0, false},
      {"on_oxygen", "", 0, 1, false},         {"consciousness", "", 0, 4, false}};
  const char* members[] = {"alert", "confusion", "voice", "pain", "unresponsive"};
  // One event line; `recorded` < 0: none; `status` empty: final.
  auto make = [&](const std::string& id, int patient, int64_t time, const Source& s, int64_t recorded,
                  const char* status) {
    nlohmann::json e;
    e["id"] = id;
    e["patient"] = "p" + std::to_string(patient);
    e["time"] = stdlib::FormatTime(time);
    if (recorded >= 0) e["recorded"] = stdlib::FormatTime(recorded);
    e["signal"] = s.signal;
    if (*status) e["status"] = status;
    std::string value;
    std::string name = s.signal;
    int v = s.lo + static_cast<int>(rng() % static_cast<uint32_t>(s.hi - s.lo + 1));
    if (std::string(status) == "entered-in-error") {
      // no value
    } else if (name == "culture_drawn") {
      e["value"] = "600-7";
    } else if (name == "antibiotic_started") {
      e["value"] = "11124";
    } else if (name == "on_oxygen") {
      e["value"] = v == 1;
    } else if (name == "consciousness") {
      e["value"] = members[v];
    } else if (name == "gcs") {
      e["value"] = v;
    } else {
      value = s.decimal ? std::to_string(v / 10) + "." + std::to_string(v % 10) : std::to_string(v);
      e["unit"] = s.unit;
    }
    std::string line = e.dump();
    if (!value.empty()) line = line.substr(0, line.size() - 1) + ",\"value\":" + value + "}";
    return Generated{time, line};
  };
  std::vector<Generated> out;
  for (int i = 0; i < count; ++i) {
    const Source& s = sources[rng() % sources.size()];
    int patient = static_cast<int>(rng() % 4);
    int64_t time = t0 + static_cast<int64_t>(rng() % (4 * 24 * 4)) * 15 * 60000;
    std::string id = "e" + std::to_string(i);
    out.push_back(make(id, patient, time, s, -1, ""));
    if (!versions) continue;
    int64_t recorded = time;
    uint32_t kind = rng() % 8;
    if (kind == 0 || kind == 2) {  // amended, sometimes moved by up to an hour (recorded after it)
      int64_t moved = rng() % 4 == 0 ? time + 15 * 60000 * (static_cast<int64_t>(rng() % 9) - 4) : time;
      recorded = std::max(recorded, moved) + 60000 * static_cast<int64_t>(1 + rng() % 120);
      out.push_back(make(id, patient, moved, s, recorded, "amended"));
    }
    if (kind == 1 || kind == 2) {  // removed in error, recorded as late as the amendment or later
      recorded += kind == 2 && rng() % 2 ? 0 : 60000 * static_cast<int64_t>(1 + rng() % 120);
      out.push_back(make(id, patient, time, s, recorded, "entered-in-error"));
    }
  }
  return out;
}

/// The events in an order of arrival a feed gives: each delayed by a random part of
/// `max_delay` after its time (so every one arrives within a lateness of `max_delay` or more).
inline std::vector<Generated> ArrivalOrder(const std::vector<Generated>& events, uint32_t seed, int64_t max_delay) {
  std::mt19937 rng(seed);
  std::vector<std::pair<int64_t, size_t>> keys;
  for (size_t i = 0; i < events.size(); ++i) {
    keys.emplace_back(events[i].time + static_cast<int64_t>(rng() % static_cast<uint32_t>(max_delay)), i);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<Generated> out;
  for (const auto& [_, i] : keys) out.push_back(events[i]);
  return out;
}

struct RunOptions {
  int64_t lateness = 24LL * 3600 * 1000;
  /// >= 0: adaptive, native code (of the shipped rules) takes over before that event.
  int switch_at = -1;
  /// The stream clock's hold (runtime::StreamClockOptions::max_ahead_ms); < 0: none.
  int64_t max_ahead = 3600000;
  runtime::Emit emit = runtime::Emit::Settled;
};

struct Result {
  std::map<std::string, std::string> final_alerts;  // alert id -> content (its JSON line as fired)
  std::vector<runtime::RecordedAlert> alerts;  // fires and retractions, in order
  std::vector<std::string> trace;                   // sorted
  std::string raw_alerts, raw_trace, raw_dead, raw_late;
  runtime::HostStats stats;
};

/// What differs between two sorted sequences (or maps) of lines: a few of the elements
/// found in only one of them, for test messages.
template <typename C>
std::string Difference(const C& a, const C& b) {
  std::vector<typename C::value_type> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::ostringstream out;
  auto show = [&](const char* side, const auto& items) {
    out << items.size() << " only in " << side << ":\n";
    for (size_t i = 0; i < items.size() && i < 4; ++i) {
      if constexpr (std::is_same_v<typename C::value_type, std::string>) {
        out << "  " << items[i] << "\n";
      } else {
        out << "  " << items[i].first << " " << items[i].second << "\n";
      }
    }
  };
  show("the first", only_a);
  show("the second", only_b);
  return out.str();
}

/// Hands every record to two sinks.
class TeeSink : public runtime::AlertSink {
 public:
  TeeSink(runtime::AlertSink& a, runtime::AlertSink& b) : a_(a), b_(b) {}
  void Alert(const runtime::AlertRecord& r) override { a_.Alert(r), b_.Alert(r); }
  bool wants_trace() const override { return a_.wants_trace() || b_.wants_trace(); }
  void Trace(const runtime::TraceRecord& r) override { a_.Trace(r), b_.Trace(r); }
  void DeadLetter(const runtime::Refusal& r) override { a_.DeadLetter(r), b_.DeadLetter(r); }
  void Late(const runtime::Refusal& r) override { a_.Late(r), b_.Late(r); }

 private:
  runtime::AlertSink &a_, &b_;
};

/// Runs the lines through the file host. Checks that every retraction repeats a standing
/// alert, that nothing fires twice without a retraction between, and that the trace has
/// one record per point. The alerts and the trace are read as records; the JSON lines
/// (raw_*) are kept too.
inline Result Run(const ir::Module& module, const std::vector<Generated>& events, const RunOptions& o) {
  std::string input;
  for (const auto& e : events) input += e.line + "\n";
  std::istringstream in(input);
  std::ostringstream alerts, trace, dead, late;
  runtime::EngineOptions options;
  options.allowed_lateness_ms = o.lateness;
  options.emit = o.emit;
  options.clock.max_ahead_ms = o.max_ahead;
  int asked = 0;
  if (o.switch_at >= 0) {
    options.take_native = [&](std::vector<std::vector<runtime::NativeBlock>>& out) {
      if (asked++ < o.switch_at) return false;
      out = NativeRules();
      return true;
    };
  }
  Result r;
  runtime::JsonLinesSink json({&alerts, &trace, &dead, &late});
  runtime::RecordingSink records;
  TeeSink sink(json, records);
  r.stats = runtime::RunFileHost(module, in, {&sink, {}, {}, {}}, options);
  r.raw_dead = dead.str();
  r.raw_late = late.str();
  r.raw_alerts = alerts.str();
  r.raw_trace = trace.str();
  std::map<std::string, const runtime::RecordedAlert*> standing;
  for (const auto& a : records.alerts) {
    runtime::AlertRecord as_fired = a.View();
    as_fired.action = runtime::AlertRecord::Action::Fire;
    std::string content;
    runtime::AppendAlertJson(content, as_fired);
    if (a.action == runtime::AlertRecord::Action::Fire) {
      EXPECT_FALSE(standing.count(a.id)) << "fired twice without a retraction: " << content;
      standing[a.id] = &a;
      r.final_alerts[a.id] = content;
    } else {
      auto it = standing.find(a.id);
      EXPECT_TRUE(it != standing.end()) << "a retraction of no standing alert: " << content;
      if (it == standing.end()) continue;
      const auto& fired = *it->second;
      EXPECT_TRUE(fired.rule == a.rule && fired.patient == a.patient && fired.time == a.time && fired.body == a.body)
          << "a retraction repeats the alert it withdraws: " << content << " withdraws " << r.final_alerts[a.id];
      standing.erase(it);
      r.final_alerts.erase(a.id);
    }
  }
  r.alerts = std::move(records.alerts);
  std::set<std::tuple<std::string, std::string, int64_t>> points;
  for (const auto& t : records.trace) {
    std::string line;
    runtime::AppendTraceJson(line, t.View());
    line.pop_back();  // the newline
    r.trace.push_back(line);
    EXPECT_TRUE(points.emplace(t.rule->id, t.patient, t.time).second) << "two trace records for one point: " << line;
  }
  std::sort(r.trace.begin(), r.trace.end());
  return r;
}

}  // namespace cdr::test
