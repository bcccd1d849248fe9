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

TEST(Diagnostics, EveryKindIsDeclaredOnceWithAKebabName) {
  std::set<std::string> names;
  for (const auto& k : cdr::diag::AllKinds()) {
    EXPECT_TRUE(names.insert(std::string(k.name)).second) << k.name;
    for (char c : k.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') << k.name;
    ASSERT_FALSE(k.format.empty());
    EXPECT_TRUE(k.format[0] < 'A' || k.format[0] > 'Z') << "messages start lowercase: " << k.name;
    EXPECT_NE(k.format.back(), '.') << "no trailing period: " << k.name;
  }
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
