// tests/unit/diag_test.cpp: diagnostic output formats (JSON as in docs/cli.md, SARIF 2.1.0).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "compiler/driver/frontend.h"

namespace {

const char* kRule = R"(schema vitals version "1.0.0"
  signal resp_rate : quantity '/min' plausible 2 .. 80

rule r version "1.0.0"
  title "t"
  owner "o"
  status draft
  cites "c"
  uses vitals
  let rr = last(resp_rate within 4h)
  when rr > 20 alert high "{rr}"
)";

TEST(Diagnostics, EveryKindIsDeclaredOnceWithAKebabNameAnExplanationAndAMessage) {
  std::set<std::string> names;
  std::set<cdr::diag::Kind> worded;
  for (const auto& m : cdr::diag::AllMessages()) {
    worded.insert(m.kind);
    ASSERT_FALSE(m.format.empty());
    EXPECT_TRUE(m.format[0] < 'A' || m.format[0] > 'Z') << "messages start lowercase: " << m.format;
    EXPECT_NE(m.format.back(), '.') << "no trailing period: " << m.format;
    // Words of its own: not only replacement fields and punctuation.
    size_t letters = 0, depth = 0;
    for (char c : m.format) {
      depth += c == '{';
      if (depth == 0 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) ++letters;
      depth -= c == '}' && depth > 0;
    }
    EXPECT_GE(letters, 3u) << "a message with words of its own: " << m.format;
  }
  for (const auto& k : cdr::diag::AllKinds()) {
    EXPECT_TRUE(names.insert(std::string(k.name)).second) << k.name;
    for (char c : k.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') << k.name;
    EXPECT_GT(k.explanation.size(), 20u) << "an explanation: " << k.name;
    EXPECT_EQ(k.explanation.back(), '.') << "the explanation is sentences: " << k.name;
    EXPECT_TRUE(worded.count(k.kind)) << "a message: " << k.name;
  }
}

// Each message reports its kind and severity and formats its typed arguments.
TEST(Diagnostics, MessagesFormatTheirArguments) {
  cdr::source::SourceManager sources;
  cdr::diag::DiagnosticEngine diags(sources);
  auto* d = diags.Emit<cdr::diag::Msg::BandOverlap>({}, 2, 1, "`8`");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->kind, cdr::diag::Kind::BandOverlap);
  EXPECT_EQ(d->severity, cdr::diag::Severity::Error);
  EXPECT_EQ(d->message, "band row 2 overlaps row 1 at `8`");
  d = diags.Emit<cdr::diag::Msg::InvalidUtf8>({}, 0xC3u);
  EXPECT_EQ(d->message, "invalid UTF-8 byte 0xC3");
  d = diags.Emit<cdr::diag::Msg::UndefinedMessageName>({}, "x", "r");
  EXPECT_EQ(d->message, "message refers to `{x}`, which is not a `let` of rule `r`");
  EXPECT_EQ(cdr::diag::Info(cdr::diag::Msg::UndefinedMessageName).kind, cdr::diag::Kind::UndefinedMessageName);
}

TEST(Diagnostics, JsonMatchesTheContract) {
  cdr::driver::Frontend fe;
  fe.AddText("rules/r.cdr", kRule);
  fe.Check();
  auto j = nlohmann::json::parse(cdr::diag::FormatJson(fe.diags));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  const auto& d = j[0];
  EXPECT_EQ(d["file"], "rules/r.cdr");
  EXPECT_EQ(d["line"], 11);
  EXPECT_EQ(d["column"], 13);
  EXPECT_EQ(d["end_line"], 11);
  EXPECT_EQ(d["end_column"], 15);
  EXPECT_EQ(d["severity"], "error");
  EXPECT_EQ(d["kind"], "bare-number");
  EXPECT_TRUE(d["notes"].is_array());
  ASSERT_EQ(d["fixes"].size(), 1u);
  EXPECT_EQ(d["fixes"][0]["line"], 11);
  EXPECT_EQ(d["fixes"][0]["column"], 15);
  EXPECT_EQ(d["fixes"][0]["replacement"], " '/min'");
}

// The SARIF 2.1.0 structure: version, runs[].tool.driver.name, results[].ruleId/level/message/locations.
TEST(Diagnostics, SarifHasTheRequiredStructure) {
  cdr::driver::Frontend fe;
  fe.AddText("rules/r.cdr", kRule);
  fe.Check();
  auto log = nlohmann::json::parse(cdr::diag::FormatSarif(fe.diags, "0.1.0"));
  EXPECT_EQ(log["version"], "2.1.0");
  ASSERT_TRUE(log["runs"].is_array());
  ASSERT_EQ(log["runs"].size(), 1u);
  const auto& run = log["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "cdr");
  const auto& rules = run["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), cdr::diag::AllKinds().size());
  ASSERT_EQ(run["results"].size(), 1u);
  const auto& r = run["results"][0];
  EXPECT_EQ(r["ruleId"], "bare-number");
  EXPECT_EQ(rules[r["ruleIndex"].get<size_t>()]["id"], r["ruleId"]);
  EXPECT_EQ(r["level"], "error");
  EXPECT_TRUE(r["message"]["text"].is_string());
  const auto& loc = r["locations"][0]["physicalLocation"];
  EXPECT_EQ(loc["artifactLocation"]["uri"], "rules/r.cdr");
  EXPECT_EQ(loc["region"]["startLine"], 11);
  EXPECT_EQ(loc["region"]["startColumn"], 13);
  EXPECT_EQ(r["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"], " '/min'");
  std::set<std::string> levels = {"none", "note", "warning", "error"};
  for (const auto& res : run["results"]) EXPECT_TRUE(levels.count(res["level"].get<std::string>()));
}

}  // namespace
