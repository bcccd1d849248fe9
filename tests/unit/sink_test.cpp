// tests/unit/sink_test.cpp: the output layer. The JSON lines of records built by hand
// against the formats of docs/events.md ("Output: alerts", "trace", "dead letters"); the
// engine's records, as a recording sink keeps them, against the lines the JSON sink
// writes in the same run; a sink that wants no trace gets none and the same alerts; the
// Kafka sink's routing of alerts to topics.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "runtime/kafka_sink.h"
#include "runtime/sink.h"
#include "tests/unit/stream_util.h"

namespace {

namespace rt = cdr::runtime;
using Kind = rt::Datum::Kind;

constexpr int64_t kFive = 1546318800000LL;  // 2019-01-01T05:00:00Z

rt::Datum D(Kind kind, int64_t v = 0, std::string text = {}) {
  rt::Datum d;
  d.kind = kind;
  d.v = v;
  d.text = std::move(text);
  return d;
}

// A rule with a let of every kind, two clauses and two evidence entries.
cdr::ir::Rule HandRule() {
  cdr::ir::Rule rule;
  rule.id = "news2";
  rule.version = "1.0.0";
  rule.hash = "sha256:54ee";
  for (auto [name, kind, unit] : std::vector<std::tuple<const char*, cdr::ir::Kind, const char*>>{
           {"rr", cdr::ir::Kind::Int, "/min"},
           {"temp", cdr::ir::Kind::Dec, "Cel"},
           {"sat", cdr::ir::Kind::Dec, "%"},
           {"note", cdr::ir::Kind::Text, ""},
           {"since", cdr::ir::Kind::Time, ""},
           {"red", cdr::ir::Kind::Bool, ""}}) {
    cdr::ir::Let let;
    let.name = name;
    let.kind = kind;
    let.unit = unit;
    rule.lets.push_back(let);
  }
  rule.whens.resize(2);
  rule.whens[0].severity = "medium";
  rule.whens[1].severity = "critical";
  rule.evidence.resize(2);
  rule.evidence[0].name = "rr";
  rule.evidence[1].name = "sat";
  return rule;
}

rt::AlertBody HandBody() {
  rt::AlertBody body;
  body.clause = 1;
  body.message = "NEWS2 \"7\"\n";
  body.values = {D(Kind::Int, 25),  D(Kind::Dec, 3660000000),        D(Kind::Unknown),
                 D(Kind::Text, 0, "a\\b"), D(Kind::Time, kFive + 1500), D(Kind::Bool, 1)};
  rt::EvidenceEvent e1{"a1", kFive, D(Kind::Int, 25), false};
  rt::EvidenceEvent e2{"a2", kFive - 3600000, D(Kind::Dec, 4000000000), true};
  body.evidence = {{e1, e2}, {}};  // the second entry used no event: left out
  return body;
}

TEST(JsonSink, AnAlertIsTheLineDocsEventsMdDescribes) {
  const cdr::ir::Rule rule = HandRule();
  const rt::AlertBody body = HandBody();
  rt::AlertRecord fire{rt::AlertRecord::Action::Fire, false, &rule, "e8f484fdac5e0a62bd28f3cc28e2bbb4", "p1", kFive,
                       &body};
  std::string line;
  rt::AppendAlertJson(line, fire);
  EXPECT_EQ(line,
            R"({"alert":"e8f484fdac5e0a62bd28f3cc28e2bbb4","action":"fire","rule":"news2","version":"1.0.0",)"
            R"("rule_hash":"sha256:54ee","patient":"p1","time":"2019-01-01T05:00:00Z","severity":"critical",)"
            R"("message":"NEWS2 \"7\"\n","values":{"rr":25,"temp":36.6,"sat":null,"note":"a\\b",)"
            R"("since":"2019-01-01T05:00:01.500Z","red":true},"evidence":[{"name":"rr","events":[)"
            R"({"id":"a1","time":"2019-01-01T05:00:00Z","value":25},)"
            R"({"id":"a2","time":"2019-01-01T04:00:00Z","value":40,"implausible":true}]}]})"
            "\n");
  // A retraction decided by a reload's backfill repeats the alert, marked so.
  rt::AlertRecord retract = fire;
  retract.action = rt::AlertRecord::Action::Retract;
  retract.backfill = true;
  std::string again;
  rt::AppendAlertJson(again, retract);
  std::string want = line;
  want.replace(want.find(R"("action":"fire",)"), 16, R"("action":"retract","backfill":true,)");
  EXPECT_EQ(again, want);
}

TEST(JsonSink, ATraceRecordNumbersItsClausesFromOne) {
  const cdr::ir::Rule rule = HandRule();
  std::vector<rt::Datum> values = {D(Kind::Int, 18), D(Kind::Dec, -50000000), D(Kind::Dec, 9500000000),
                                   D(Kind::Unknown), D(Kind::Unknown),        D(Kind::Bool, 0)};
  std::vector<int> held = {0, 1};
  std::string line;
  rt::AppendTraceJson(line, rt::TraceRecord{&rule, "p1", kFive, &values, &held});
  EXPECT_EQ(line,
            R"({"rule":"news2","version":"1.0.0","patient":"p1","time":"2019-01-01T05:00:00Z",)"
            R"("values":{"rr":18,"temp":-0.5,"sat":95,"note":null,"since":null,"red":false},)"
            R"("held":[{"clause":1,"severity":"medium"},{"clause":2,"severity":"critical"}]})"
            "\n");
}

TEST(JsonSink, ARefusalQuotesItsInputOnlyWhereAsked) {
  std::ostringstream dead, late;
  rt::JsonLinesSink sink({nullptr, nullptr, &dead, &late, /*dead_letter_input=*/true, /*late_input=*/false});
  sink.DeadLetter(rt::Refusal{"not JSON", 6, "{\"a\":\xff}", 7});
  sink.Late(rt::Refusal{"later than the allowed lateness", 9, "{}", 2});
  EXPECT_EQ(dead.str(), "{\"reason\":\"not JSON\",\"line\":6,\"input\":\"{\\\"a\\\":\xef\xbf\xbd}\"}\n");  // U+FFFD
  EXPECT_EQ(late.str(), "{\"reason\":\"later than the allowed lateness\",\"line\":9}\n");
  // A line over 64 KiB: cut, and marked.
  std::ostringstream cut;
  rt::JsonLinesSink cutting({nullptr, nullptr, &cut});
  std::string input(rt::kMaxRefusedInput, 'x');
  cutting.DeadLetter(rt::Refusal{"too long", 1, input, rt::kMaxRefusedInput + 10});
  EXPECT_EQ(cut.str(), "{\"reason\":\"too long\",\"line\":1,\"input\":\"" + input + "\",\"truncated\":true}\n");
}

TEST(JsonSink, DatumTextIsWhatMessagesShow) {
  EXPECT_EQ(rt::DatumText(D(Kind::Unknown)), "unknown");
  EXPECT_EQ(rt::DatumText(D(Kind::Dec, 100775194)), "1.00775194");
  EXPECT_EQ(rt::DatumText(D(Kind::Dec, 800000000)), "8");
  EXPECT_EQ(rt::DatumText(D(Kind::Text, 0, "a\"b")), "a\"b");  // as it is: the message is escaped once, whole
  EXPECT_EQ(rt::DatumText(D(Kind::Time, kFive)), "2019-01-01T05:00:00Z");
  EXPECT_EQ(rt::DatumText(D(Kind::Bool, 1)), "true");
}

// The engine's records, kept by a recording sink, are what the JSON sink writes of the
// same run, line for line: alerts, trace, dead letters and late events.
TEST(Sink, RecordsAndJsonLinesOfOneRunAgree) {
  const int64_t lateness = 6LL * 3600 * 1000;
  auto events = cdr::test::ArrivalOrder(cdr::test::RandomEvents(5, 600, /*versions=*/true), 5, 2 * lateness);
  std::string input;
  for (const auto& e : events) input += e.line + "\n";
  input += "not json\n";
  std::ostringstream alerts, trace, dead, late;
  rt::JsonLinesSink json({&alerts, &trace, &dead, &late});
  rt::RecordingSink records;
  cdr::test::TeeSink sink(json, records);
  rt::EngineOptions options;
  options.allowed_lateness_ms = lateness;
  std::istringstream in(input);
  rt::HostStats stats = rt::RunFileHost(cdr::test::ShippedRules(), in, {&sink, {}, {}, {}}, options);
  ASSERT_GT(stats.fired, 10u);
  ASSERT_GT(stats.retracted, 0u);
  ASSERT_GT(stats.late, 0u);
  std::string a, t, d, l;
  for (const auto& r : records.alerts) rt::AppendAlertJson(a, r.View());
  for (const auto& r : records.trace) rt::AppendTraceJson(t, r.View());
  for (const auto& r : records.dead_letters) rt::AppendRefusalJson(d, {r.reason, r.line, r.input, r.size}, true);
  for (const auto& r : records.late) rt::AppendRefusalJson(l, {r.reason, r.line, r.input, r.size}, true);
  EXPECT_EQ(records.alerts.size(), stats.fired + stats.retracted);
  EXPECT_EQ(records.late.size(), stats.late);
  EXPECT_EQ(records.dead_letters.size(), stats.dead_lettered);
  EXPECT_EQ(a, alerts.str());
  EXPECT_EQ(t, trace.str());
  EXPECT_EQ(d, dead.str());
  EXPECT_EQ(l, late.str());
  EXPECT_NE(d.find("\"line\":" + std::to_string(events.size() + 1)), std::string::npos) << d;
}

// Trace records are computed only for a sink that wants them; the alerts do not depend on it.
TEST(Sink, NoTraceIsComputedForASinkThatWantsNone) {
  std::string input;
  for (const auto& e : cdr::test::RandomEvents(2, 400)) input += e.line + "\n";
  auto run = [&](bool trace) {
    rt::RecordingSink sink(trace);
    rt::FileHost host(cdr::test::ShippedRules(), {&sink, {}, {}, {}}, {});
    std::istringstream in(input);
    host.Run(rt::StreamSource(in));
    EXPECT_EQ(host.engine().counters().trace_records, sink.trace.size());
    std::string alerts;
    for (const auto& r : sink.alerts) rt::AppendAlertJson(alerts, r.View());
    return std::make_pair(alerts, sink.trace.size());
  };
  auto [with, traced] = run(true);
  auto [without, none] = run(false);
  EXPECT_GT(traced, 100u);
  EXPECT_EQ(none, 0u);
  EXPECT_FALSE(with.empty());
  EXPECT_EQ(with, without);
}

}  // namespace

namespace {

TEST(JsonSink, ARefusalFromAKafkaPartitionNamesItAndTheOffset) {
  std::string line;
  cdr::runtime::Refusal r{"not JSON", 1041, "x", 1};
  r.partition = 2;
  cdr::runtime::AppendRefusalJson(line, r, true);
  EXPECT_EQ(line, "{\"reason\":\"not JSON\",\"partition\":2,\"offset\":1041,\"input\":\"x\"}\n");
}

TEST(KafkaRouting, TheFirstMatchingLineWinsElseTheDefault) {
  std::string error;
  auto routing = cdr::runtime::AlertRouting::Parse(
      "# paging first\n*  critical  paging\n\nsepsis3_suspected_infection * sepsis  # a comment\n", "routing", error);
  ASSERT_TRUE(routing) << error;
  const std::string fallback = "worklist";
  EXPECT_EQ(routing->TopicOf("news2", "critical", fallback), "paging");
  EXPECT_EQ(routing->TopicOf("sepsis3_suspected_infection", "critical", fallback), "paging");
  EXPECT_EQ(routing->TopicOf("sepsis3_suspected_infection", "low", fallback), "sepsis");
  EXPECT_EQ(routing->TopicOf("news2", "high", fallback), "worklist");
  EXPECT_FALSE(cdr::runtime::AlertRouting::Parse("* critical\n", "r", error));
  EXPECT_EQ(error, "r:1: a route is RULE SEVERITY TOPIC (`*` for any rule or severity), not `* critical`");
  EXPECT_FALSE(cdr::runtime::AlertRouting::Parse("\n* crit paging\n", "r", error));
  EXPECT_EQ(error, "r:2: `crit` is not a severity (low, medium, high, critical or *)");
}

}  // namespace
