// runtime/json_sink.h: the NDJSON sink: alerts, trace records, dead letters and late
// events as the JSON lines docs/outputs.md describes, one line per record, each written
// to its stream with one call (an OutputFile then writes whole lines only).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "runtime/sink.h"

namespace cdr::runtime {

/// The streams a JsonLinesSink writes; any may be null (that output is not wanted).
struct JsonStreams {
  std::ostream* alerts = nullptr;
  std::ostream* trace = nullptr;
  std::ostream* dead_letter = nullptr;
  std::ostream* late = nullptr;
  /// Whether a dead-letter or late line quotes the event (`input`): not on stderr, whose
  /// lines end up in logs, since an event holds patient data; its reason and line number
  /// are enough there.
  bool dead_letter_input = true, late_input = true;
  /// The alerts of rules running in shadow (ir::Rule::shadow): never on `alerts`.
  std::ostream* shadow = nullptr;
};

class JsonLinesSink : public AlertSink {
 public:
  explicit JsonLinesSink(const JsonStreams& streams) : s_(streams) {}
  void Alert(const AlertRecord& alert) override;
  bool wants_trace() const override { return s_.trace != nullptr; }
  void Trace(const TraceRecord& record) override;
  void DeadLetter(const Refusal& refusal) override;
  void Late(const Refusal& refusal) override;

 private:
  JsonStreams s_;
  std::string line_;  // reused from record to record
};

/// The JSON line (with its newline) of an alert, a trace record, a refusal.
void AppendAlertJson(std::string& out, const AlertRecord& alert);
void AppendTraceJson(std::string& out, const TraceRecord& record);
/// A refused event's line: its reason, its input line number and, `with_input`, its text
/// (cut at kMaxRefusedInput bytes, then `"truncated": true`).
void AppendRefusalJson(std::string& out, const Refusal& refusal, bool with_input);
/// A datum as a JSON value (null when unknown).
void AppendDatumJson(std::string& out, const Datum& d);
std::string DatumJson(const Datum& d);

/// A JSON string literal.
void AppendJsonString(std::string& out, std::string_view s);
std::string JsonString(std::string_view s);
/// A JSON string literal of possibly invalid UTF-8 (invalid bytes become U+FFFD).
std::string LossyJsonString(std::string_view s);

}  // namespace cdr::runtime
