// runtime/sink.h: what the engine and its hosts hand out, as records: alerts (fires and
// retractions), trace records, dead letters and late events; and the interface of where
// they go (an AlertSink). Formatting is the sinks' business: runtime/json_sink.h writes
// the NDJSON lines of docs/outputs.md; `cdr test` and the property tests keep the
// records themselves (RecordingSink).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/ir.h"

namespace cdr::runtime {

/// A value an alert or a trace record reports: a let's value, or an event's.
struct Datum {
  enum class Kind : uint8_t { Unknown, Bool, Int, Dec, Text, Time };
  Kind kind = Kind::Unknown;
  int64_t v = 0;     // Bool (0 or 1), Int, Dec (Decimal's raw value), Time (ms since the epoch)
  std::string text;  // Text
  bool operator==(const Datum& o) const { return kind == o.kind && v == o.v && text == o.text; }
  bool operator!=(const Datum& o) const { return !(*this == o); }
};

/// An event an alert cites as evidence. A derived event is named by the alert id of its
/// rule's evaluation point.
struct EvidenceEvent {
  std::string id;
  int64_t time = 0;
  Datum value;
  bool implausible = false;  // outside its signal's plausible range, kept (`plausible ... keep`)
  bool operator==(const EvidenceEvent& o) const {
    return id == o.id && time == o.time && value == o.value && implausible == o.implausible;
  }
};

/// What an alert says, fixed when it fires; its retraction repeats it. Names (of the
/// rule's lets, clauses and evidence) are the rule's: `values` has one entry per let of
/// the rule, `evidence` one list per evidence entry (empty: nothing to cite).
struct AlertBody {
  int clause = 0;  // the `when` clause that held first (0-based)
  std::string message;
  std::vector<Datum> values;
  std::vector<std::vector<EvidenceEvent>> evidence;
  bool operator==(const AlertBody& o) const {
    return clause == o.clause && message == o.message && values == o.values && evidence == o.evidence;
  }
};

/// An alert fired or retracted. The views are valid during the call only.
struct AlertRecord {
  enum class Action : uint8_t { Fire, Retract };
  Action action = Action::Fire;
  /// Decided by a reload's backfill: at a point before the rule was loaded (docs/operations.md).
  bool backfill = false;
  const ir::Rule* rule = nullptr;  // id, version, hash, names
  std::string_view id;             // the deterministic alert id (AlertId)
  std::string_view patient;
  int64_t time = 0;  // the evaluation point
  const AlertBody* body = nullptr;
  const std::string& severity() const { return rule->whens[static_cast<size_t>(body->clause)].severity; }
};

/// An evaluation point's final values (once the watermark has passed it). The views are
/// valid during the call only.
struct TraceRecord {
  const ir::Rule* rule = nullptr;
  std::string_view patient;
  int64_t time = 0;
  const std::vector<Datum>* values = nullptr;  // one per let of the rule
  const std::vector<int>* held = nullptr;      // the clauses that held (0-based, in order)
};

/// An input line that was not used: a dead letter (it cannot be used) or a late event
/// (older than the watermark). `input` is the line (as read: at most kMaxRefusedInput
/// bytes of it), `size` its full size.
struct Refusal {
  std::string_view reason;
  uint64_t line = 0;
  std::string_view input;
  uint64_t size = 0;
  int32_t partition = -1;  // from a Kafka partition: then `line` is the message's offset in it
};

/// The most of an input line a refusal (dead letter, late event) repeats.
inline constexpr size_t kMaxRefusedInput = 64 * 1024;

/// Where a run's records go. The engine calls it between two events; a sink does not call
/// back into the engine.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Alert(const AlertRecord& alert) = 0;
  /// Whether trace records are wanted (asked once, when an engine is made): the engine
  /// computes them only then.
  virtual bool wants_trace() const { return false; }
  virtual void Trace(const TraceRecord& /*record*/) {}
  virtual void DeadLetter(const Refusal& /*refusal*/) {}
  virtual void Late(const Refusal& /*refusal*/) {}
};

/// Copies of the records, for a RecordingSink.
struct RecordedAlert {
  AlertRecord::Action action;
  bool backfill;
  const ir::Rule* rule;
  std::string id, patient;
  int64_t time;
  AlertBody body;
  const std::string& severity() const { return rule->whens[static_cast<size_t>(body.clause)].severity; }
  AlertRecord View() const { return AlertRecord{action, backfill, rule, id, patient, time, &body}; }
};
struct RecordedTrace {
  const ir::Rule* rule;
  std::string patient;
  int64_t time;
  std::vector<Datum> values;
  std::vector<int> held;
  TraceRecord View() const { return TraceRecord{rule, patient, time, &values, &held}; }
};
struct RecordedRefusal {
  std::string reason;
  uint64_t line;
  std::string input;
  uint64_t size;
};

/// A sink that keeps copies of what it is handed, in order (`cdr test`, tests).
class RecordingSink : public AlertSink {
 public:
  explicit RecordingSink(bool trace = true) : trace_(trace) {}

  void Alert(const AlertRecord& a) override {
    alerts.push_back({a.action, a.backfill, a.rule, std::string(a.id), std::string(a.patient), a.time, *a.body});
  }
  bool wants_trace() const override { return trace_; }
  void Trace(const TraceRecord& t) override {
    trace.push_back({t.rule, std::string(t.patient), t.time, *t.values, *t.held});
  }
  void DeadLetter(const Refusal& r) override { dead_letters.push_back(Copy(r)); }
  void Late(const Refusal& r) override { late.push_back(Copy(r)); }

  std::vector<RecordedAlert> alerts;
  std::vector<RecordedTrace> trace;
  std::vector<RecordedRefusal> dead_letters, late;

 private:
  static RecordedRefusal Copy(const Refusal& r) {
    return {std::string(r.reason), r.line, std::string(r.input), r.size};
  }
  bool trace_;
};

/// A datum as a rule's message shows it: "unknown", true/false, a number as written
/// (shortest form), a text as it is, a time in ISO 8601 (runtime/json_sink.cpp).
std::string DatumText(const Datum& d);

}  // namespace cdr::runtime
