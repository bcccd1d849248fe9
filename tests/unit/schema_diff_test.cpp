// tests/unit/schema_diff_test.cpp: the schema changes `cdr schema diff` and hot reload
// judge (compiler/driver/schema_diff.h), each expected line written by hand: a change
// breaks when a rule of the old set reads the signal and the change takes events or
// values from it or changes what its numbers mean.
#include <gtest/gtest.h>

#include "compiler/driver/frontend.h"
#include "compiler/driver/schema_diff.h"

namespace {

const char* kRule = R"(
rule r version "1.0.0"
  title "t"
  owner "o"
  status draft
  cites "c"
  uses s
  let h = last(hr within 1h)
  let t = last(temp within 1h)
  let c = last(creat within 1h)
  let k = last(conscious within 1h)
  let a = count(abx within 1h)
  when h > 100 '/min' or t > 38 'Cel' or c > 2 'mg/dL' or k = 'voice' or a > 0 alert low "x"
)";

std::vector<std::string> Diff(const std::string& before, const std::string& after) {
  cdr::driver::Frontend a, b;
  a.AddText("before.cdr", before + kRule);
  b.AddText("after.cdr", after + kRule);
  a.Check();
  b.Check();
  EXPECT_TRUE(a.Lower()) << cdr::diag::FormatText(a.diags);
  EXPECT_TRUE(b.Lower()) << cdr::diag::FormatText(b.diags);
  std::vector<std::string> out;
  for (const auto& c : cdr::driver::DiffSchemas(a.module, b.module)) {
    out.push_back(std::string(c.breaking ? "breaking " : "change ") + c.signal + ": " + c.what);
  }
  return out;
}

const std::string kBefore = R"(schema s version "1.0.0"
  signal hr : quantity '/min' codes loinc "8867-4" plausible 0 .. 300
  signal temp : quantity 'Cel' codes loinc "8310-5", "8331-1" plausible 25 .. 45
  signal creat : quantity 'mg/dL' codes loinc "2160-0" convert 'umol/L' factor 0.011312
  signal conscious : enum { alert, voice, pain }
  valueset abxs = { rxnorm "723", "733" }
  event abx : code in valueset abxs
  signal unread : integer plausible 0 .. 10
)";

TEST(SchemaDiff, NothingChanged) { EXPECT_TRUE(Diff(kBefore, kBefore).empty()); }

TEST(SchemaDiff, EachKindOfChange) {
  const std::string after = R"(schema s version "2.0.0"
  signal hr : quantity '/min' codes loinc "8867-4", local "HR" plausible 20 .. 300
  signal temp : quantity '[degF]' codes loinc "8310-5" plausible 77 .. 113
  signal creat : quantity 'mg/dL' codes loinc "2160-0" convert 'umol/L' factor 0.0113
  signal conscious : enum { alert, voice, confusion }
  valueset abxs = { rxnorm "723" }
  event abx : code in valueset abxs
  signal unread : integer plausible 0 .. 5
  signal spo2 : quantity '%'
)";
  std::vector<std::string> want = {  // by signal name, then the signals added
      "breaking s.abx: value set code rxnorm \"733\" removed: its events go to the dead letter (read by r)",
      "breaking s.conscious: member 'pain' removed: its events go to the dead letter (read by r)",
      "change s.conscious: member 'confusion' added",
      "breaking s.creat: convert 'umol/L' has another factor: values in 'umol/L' change (read by r)",
      "change s.hr: code local \"HR\" added",
      "breaking s.hr: plausible range 0 .. 300 /min -> 20 .. 300 /min, narrower: values outside go to the dead letter "
      "(read by r)",
      "breaking s.temp: unit 'Cel' -> '[degF]': events are converted, but bare numbers in the bands of the rules that "
      "read it are in the signal's unit (read by r)",
      "breaking s.temp: code loinc \"8331-1\" removed: its events go to the dead letter (read by r)",
      // 25 .. 45 Cel is 77 .. 113 [degF]: the range is the same. No rule reads `unread`:
      // a change, not a break.
      "change s.unread: plausible range 0 .. 10 -> 0 .. 5, narrower: values outside go to the dead letter",
      "change s.spo2: added",
  };
  EXPECT_EQ(Diff(kBefore, after), want);
}

TEST(SchemaDiff, RemovedAndWider) {
  // `hr` widens (and keeps what is outside); `temp` loses its range; `unread` is removed
  // (no rule reads it).
  const std::string after = R"(schema s version "1.1.0"
  signal hr : quantity '/min' codes loinc "8867-4" plausible 0 .. 350 keep
  signal temp : quantity 'Cel' codes loinc "8310-5", "8331-1"
  signal creat : quantity 'mg/dL' codes loinc "2160-0" convert 'umol/L' factor 0.011312
  signal conscious : enum { alert, voice, pain }
  valueset abxs = { rxnorm "723", "733" }
  event abx : code in valueset abxs
)";
  std::vector<std::string> want = {
      "change s.hr: plausible range 0 .. 300 /min -> 0 .. 350 /min, wider",
      "change s.temp: plausible range removed",
      "change s.unread: removed",
  };
  EXPECT_EQ(Diff(kBefore, after), want);
}

TEST(SchemaDiff, TypesAndDimensions) {
  // Another type, and a quantity of another dimension: a break for a signal a rule
  // reads (here `abx`, counted), a change for one no rule reads.
  const std::string after = R"(schema s version "2.0.0"
  signal hr : quantity '/min' codes loinc "8867-4" plausible 0 .. 300
  signal temp : quantity 'Cel' codes loinc "8310-5", "8331-1" plausible 25 .. 45
  signal creat : quantity 'mg/dL' codes loinc "2160-0" convert 'umol/L' factor 0.011312
  signal conscious : enum { alert, voice, pain }
  signal abx : text
  signal unread : quantity 'kg'
)";
  std::vector<std::string> want = {
      "breaking s.abx: type code -> text (read by r)",  // an event with a code value is of type code
      "change s.unread: type integer -> quantity 'kg'",
  };
  EXPECT_EQ(Diff(kBefore, after), want);
  // A quantity whose unit moves to another dimension (mass to substance concentration).
  std::string kg = kBefore, mmol = kBefore;
  kg.replace(kg.find("signal unread : integer plausible 0 .. 10"), 41, "signal unread : quantity 'kg'");
  mmol.replace(mmol.find("signal unread : integer plausible 0 .. 10"), 41, "signal unread : quantity 'mmol/L'");
  EXPECT_EQ(Diff(kg, mmol), std::vector<std::string>{"change s.unread: unit 'kg' -> 'mmol/L', another dimension"});
}

TEST(SchemaDiff, RecordsOfAnotherKind) {
  // `abx` now maps orders rather than administrations: the same name, another meaning.
  std::string orders = kBefore;
  const std::string event = "event abx : code in valueset abxs";
  ASSERT_NE(orders.find(event), std::string::npos);
  orders.replace(orders.find(event), event.size(), event + " from order");
  EXPECT_EQ(Diff(kBefore, orders), std::vector<std::string>{"breaking s.abx: records `from (observations)` -> `from "
                                                            "order`: its codes map other records (read by r)"});
}

}  // namespace
