// tests/unit/runtime_test.cpp: the pieces under the engine: RFC 3339 times, exact JSON
// numbers, event id texts, the event decoder, and the IR verifier.
#include <gtest/gtest.h>

#include <random>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"

#include <sstream>
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/json_sink.h"
#include "stdlib/time.h"

namespace {

using cdr::stdlib::FormatTime;
using cdr::stdlib::ParseTime;

TEST(Time, ParsesRfc3339) {
  EXPECT_EQ(ParseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTime("2000-01-01T00:00:00Z"), 946684800000LL);  // the PhysioNet import's epoch
  EXPECT_EQ(ParseTime("2000-01-01T02:00:00+02:00"), 946684800000LL);
  EXPECT_EQ(ParseTime("1999-12-31T19:00:00-05:00"), 946684800000LL);
  EXPECT_EQ(ParseTime("2000-01-01T00:00:00.250Z"), 946684800250LL);
  EXPECT_EQ(ParseTime("2000-01-01"), 946684800000LL);
  EXPECT_EQ(ParseTime("2024-02-29T12:00:00Z"), 1709208000000LL);  // a leap day
}

TEST(Time, RejectsMalformedTimes) {
  for (const char* bad : {"2019-13-01T00:00:00Z", "2019-02-29T00:00:00Z", "2019-04-31T00:00:00Z",
                          "2019-01-01T24:00:00Z", "2019-01-01T00:00:00", "2019-01-01T00:00Z", "10000-01-01T00:00:00Z",
                          "2019-1-01T00:00:00Z", "", "yesterday", "2019-01-01T00:00:00Zjunk"}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
}

TEST(Time, FormatsAndRoundTrips) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(946684800250LL), "2000-01-01T00:00:00.250Z");
  EXPECT_EQ(FormatTime(-1000), "1969-12-31T23:59:59Z");
  for (int64_t t : {0LL, 946684800000LL, 1709208000000LL, 253402300799000LL}) EXPECT_EQ(ParseTime(FormatTime(t)), t);
}

TEST(IdTexts, KeepTextsAcrossDropsAndCompaction) {
  cdr::runtime::IdTexts ids;
  std::vector<std::pair<uint32_t, std::string>> live;
  auto tag_of = [](size_t i) { return i % 3 ? static_cast<int32_t>(i) - 1000 : 0; };  // a third untagged
  for (int i = 0; i < 2000; ++i) {
    std::string text = "id-" + std::to_string(i) + std::string(static_cast<size_t>(i % 40), 'z');
    live.emplace_back(ids.Add(text, tag_of(static_cast<size_t>(i))), text);
  }
  EXPECT_EQ(ids.Text(0), "");  // no id (a derived event)
  for (size_t i = 0; i < live.size(); ++i) {
    ASSERT_EQ(ids.Text(live[i].first), live[i].second);
    ASSERT_EQ(ids.Tag(live[i].first), tag_of(i));
  }
  // Drop all but every tenth: more than half is dead, so compaction is due.
  EXPECT_FALSE(ids.WantsCompaction());
  std::vector<std::pair<uint32_t, std::string>> kept;
  std::vector<int32_t> kept_tags;
  for (size_t i = 0; i < live.size(); ++i) {
    if (i % 10 == 0) {
      kept.push_back(live[i]);
      kept_tags.push_back(tag_of(i));
    } else {
      ids.Drop(live[i].first);
    }
  }
  ASSERT_TRUE(ids.WantsCompaction());
  size_t before = ids.bytes();
  ids.Compact([&](auto&& rewrite) {
    for (auto& entry : kept) rewrite(entry.first);
  });
  EXPECT_LT(ids.bytes(), before / 5);
  EXPECT_FALSE(ids.WantsCompaction());
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(ids.Text(kept[i].first), kept[i].second);
    EXPECT_EQ(ids.Tag(kept[i].first), kept_tags[i]);  // the tag moves with its text
  }
  // Entries are a 4-byte length, a 4-byte tag unless it is 0, then the text, padded to 8
  // bytes: an empty id takes 8, a 4-byte one 8, a 5-byte one 16; tagged, 4 bytes more.
  cdr::runtime::IdTexts small;
  uint32_t a = small.Add(""), b = small.Add("abcd"), c = small.Add("abcde"), d = small.Add("abcd", -7);
  EXPECT_EQ(small.bytes(), 8u + 8u + 16u + 16u);
  EXPECT_EQ(small.Text(d), "abcd");
  EXPECT_EQ(small.Tag(d), -7);
  EXPECT_EQ(small.Tag(b), 0);
  EXPECT_EQ(small.Text(a), "");
  EXPECT_EQ(small.Text(b), "abcd");
  EXPECT_EQ(small.Text(c), "abcde");
  // Room grows 1.5 times when full, from 64 bytes (not doubled: a patient's texts are
  // kept for the whole retention, so unused room is memory held).
  EXPECT_EQ(small.capacity(), 64u);
  cdr::runtime::IdTexts grown;
  size_t room = 0, grew = 0;
  for (int i = 0; i < 1000; ++i) {
    grown.Add("id-" + std::to_string(i));
    if (grown.capacity() != room) {
      if (room) {
        EXPECT_EQ(grown.capacity(), room + room / 2) << "after " << room;
      }
      room = grown.capacity();
      ++grew;
    }
  }
  EXPECT_GE(grown.capacity(), grown.bytes());
  EXPECT_GT(grew, 5u);
}

// RFC 8259 section 7: quotation mark, reverse solidus and the control characters
// U+0000..U+001F must be escaped; everything else may be written as it is (UTF-8 here).
TEST(JsonStrings, EscapeWhatRfc8259Requires) {
  using cdr::runtime::JsonString;
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("p17/3/2"), "\"p17/3/2\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(JsonString(std::string_view("x\0y\x01\x1f", 5)), "\"x\\u0000y\\u0001\\u001f\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9 / \x7f"), "\"caf\xc3\xa9 / \x7f\"");  // UTF-8 and DEL as they are
  EXPECT_EQ(JsonString("\"\""), "\"\\\"\\\"\"");
}

TEST(JsonNumbers, AreReadExactly) {
  using cdr::runtime::DecimalFromJson;
  EXPECT_EQ(DecimalFromJson("36.6"), 3660000000LL);  // binary floating point would not be exact
  EXPECT_EQ(DecimalFromJson("-0.3"), -30000000LL);
  EXPECT_EQ(DecimalFromJson("1e2"), 10000000000LL);
  EXPECT_EQ(DecimalFromJson("2.5E-3"), 250000LL);
  EXPECT_EQ(DecimalFromJson("0.123456785"), 12345679LL);  // 9th place rounds half away from zero
  EXPECT_EQ(DecimalFromJson("1e-20"), 0);
  EXPECT_FALSE(DecimalFromJson("1e400").has_value());
  EXPECT_FALSE(DecimalFromJson("").has_value());
  EXPECT_FALSE(DecimalFromJson("12abc").has_value());
  EXPECT_EQ(DecimalFromJson("9999999999.99999999"), 999999999999999999LL);  // the 64-bit fast path's limit
  EXPECT_EQ(DecimalFromJson("12345678901.5"), 1234567890150000000LL);       // past it: the general path
}

TEST(JsonNumbers, FastPathAgreesWithTheGeneralOne) {
  // An exponent sends a number down the general path: "x" and "xe0" must read the same.
  using cdr::runtime::DecimalFromJson;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    std::string s = rng() % 3 == 0 ? "-" : "";
    int int_digits = 1 + static_cast<int>(rng() % 12), frac_digits = static_cast<int>(rng() % 11);
    for (int k = 0; k < int_digits; ++k) s += static_cast<char>('0' + rng() % 10);
    if (frac_digits) s += '.';
    for (int k = 0; k < frac_digits; ++k) s += static_cast<char>('0' + rng() % 10);
    EXPECT_EQ(DecimalFromJson(s), DecimalFromJson(s + "e0")) << s;
  }
}

class DecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fe_.AddText("s.cdr", R"(schema s version "1.0.0"
  signal temp : quantity 'Cel' codes loinc "8310-5"
  signal creatinine : quantity 'mg/dL' convert 'umol/L' factor 0.011312
  signal gcs : integer
  valueset abx = { rxnorm "11124" }
  event antibiotic : code in valueset abx
rule r version "1.0.0"
  title "t"
  owner "o"
  status draft
  cites "c"
  uses s
  let t = last(temp within 4h)
  let c = last(creatinine within 4h)
  let a = count(antibiotic within 4h)
  when t > 38 'Cel' and c > 1 'mg/dL' and a > 0 alert high "{t} {c} {a}"
)");
    fe_.Check();
    ASSERT_TRUE(fe_.Lower()) << cdr::diag::FormatText(fe_.diags);
    decoder_ = std::make_unique<cdr::runtime::EventDecoder>(fe_.module, interner_);
  }
  cdr::driver::Frontend fe_;
  cdr::runtime::Interner interner_;
  std::unique_ptr<cdr::runtime::EventDecoder> decoder_;
  cdr::runtime::Event e_;
};

TEST_F(DecoderTest, ConvertsUnitsExactly) {
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"1","patient":"p","time":"2019-01-01T00:00:00Z","code":{"system":"http://loinc.org","code":"8310-5"},"value":100.4,"unit":"[degF]"})",
      e_));
  EXPECT_EQ(e_.value, 3800000000LL);  // (100.4 - 32) * 5/9 = 38.0 Cel exactly
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"2","patient":"p","time":"2019-01-01T00:00:00Z","signal":"creatinine","value":88.4,"unit":"umol/L"})", e_));
  EXPECT_EQ(e_.value, 99998080LL);  // 88.4 * 0.011312 = 0.9999808 mg/dL (the schema's factor)
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"3","patient":"p","time":"2019-01-01T00:00:00Z","signal":"creatinine","value":0.01,"unit":"g/L"})", e_));
  EXPECT_EQ(e_.value, 100000000LL);  // 0.01 g/L = 1 mg/dL by UCUM
}

// An alert response (docs/events.md, "Alert responses") is an event of `RULE.acknowledged`
// (or overridden, escalated) whose value is who responded; every part of it is checked.
TEST_F(DecoderTest, ReadsAlertResponses) {
  const std::string head = R"({"id":"a1","patient":"p","time":"2019-01-01T00:10:00Z",)";
  const std::string alert = R"("alert":"0123456789abcdef0123456789abcdef")";
  auto reason = [&](const std::string& rest) { return decoder_->Decode(head + rest, e_).value_or("(decoded)"); };
  ASSERT_EQ(reason(R"("response":{"action":"override","rule":"r",)" + alert + R"(,"by":"dr.kim","reason":"comfort care"}})"),
            "(decoded)");
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "r.overridden");
  EXPECT_TRUE(e_.has_value);
  EXPECT_EQ(interner_.Text(e_.value), "dr.kim");
  // Withdrawn by its id: the action and rule find the signal; nothing else is needed.
  ASSERT_EQ(reason(R"("status":"entered-in-error","response":{"action":"acknowledge","rule":"r"}})"), "(decoded)");
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "r.acknowledged");
  EXPECT_EQ(reason(R"("response":"ack"})"), "`response` must be an object with `action`, `rule`, `alert` and `by`");
  EXPECT_EQ(reason(R"("response":{"rule":"r",)" + alert + R"(,"by":"x"}})"),
            "`response` has no `action` (acknowledge, override or escalate)");
  EXPECT_EQ(reason(R"("response":{"action":"Acknowledge","rule":"r",)" + alert + R"(,"by":"x"}})"),
            "`response.action` `Acknowledge` is not acknowledge, override or escalate");
  EXPECT_EQ(reason(R"("response":{"action":"escalate",)" + alert + R"(,"by":"x"}})"),
            "`response` has no `rule` (the id of the rule whose alert it answers)");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","rule":"news2",)" + alert + R"(,"by":"x"}})"),
            "`response.rule` `news2` is not a loaded rule");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","rule":"r","by":"x"}})"),
            "`response` has no `alert` (the id of the alert it answers)");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","rule":"r","alert":"0123456789ABCDEF0123456789ABCDEF","by":"x"}})"),
            "`response.alert` `0123456789ABCDEF0123456789ABCDEF` is not an alert id (32 lowercase hex digits)");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","rule":"r",)" + alert + R"(,"by":""}})"),
            "`response` has no `by` (who responded)");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","rule":"r",)" + alert + R"(,"by":7}})"),
            "`response.by` must be a string");
  EXPECT_EQ(reason(R"("response":{"action":"escalate","action":"override","rule":"r",)" + alert + R"(,"by":"x"}})"),
            "duplicate key `response.action` (which of its values is meant cannot be known)");
  EXPECT_EQ(reason(R"("value":1,"response":{"action":"escalate","rule":"r",)" + alert + R"(,"by":"x"}})"),
            "an alert response has no `signal`, `code` or `value`: its `response` says what it is");
  EXPECT_EQ(reason(R"("signal":"r.escalated","value":"x"})"),
            "signal `r.escalated` is set by alert responses (`response` with `action`, `rule`, `alert`, `by`), not by "
            "`signal`");
}

// The decoder keeps the last time it parsed (a panel's events share it): a line with
// another time, an empty one or a malformed one must not be given the kept value.
TEST_F(DecoderTest, TimesAreParsedPerLineWhateverCameBefore) {
  auto line = [](const std::string& time) {
    return R"({"id":"1","patient":"p","time":")" + time + R"(","signal":"creatinine","value":1,"unit":"mg/dL"})";
  };
  ASSERT_FALSE(decoder_->Decode(line("2019-01-01T00:00:00Z"), e_));
  EXPECT_EQ(e_.time, 1546300800000LL);
  ASSERT_FALSE(decoder_->Decode(line("2019-01-01T00:00:00Z"), e_));
  EXPECT_EQ(e_.time, 1546300800000LL);
  EXPECT_EQ(decoder_->Decode(line(""), e_).value_or("(decoded)"), "`time` `` is not an RFC 3339 date-time");
  EXPECT_EQ(decoder_->Decode(line("2019-01-01T00:00:00"), e_).value_or("(decoded)"),
            "`time` `2019-01-01T00:00:00` is not an RFC 3339 date-time");
  ASSERT_FALSE(decoder_->Decode(line("2019-01-01T01:00:00+01:00"), e_));
  EXPECT_EQ(e_.time, 1546300800000LL);  // the same instant, written otherwise
  ASSERT_FALSE(decoder_->Decode(line("2019-01-02T00:00:00Z"), e_));
  EXPECT_EQ(e_.time, 1546300800000LL + 86400000LL);
}

// Strings without escapes are read where they are in the line; strings with escapes
// are unescaped. Both must give the same texts.
TEST_F(DecoderTest, ReadsStringsWithAndWithoutEscapes) {
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"a\"b\\c","patient":"p\u0031","time":"2019-01-01T00:00:00Z","code":{"system":"http:\/\/loinc.org","code":"8310\u002D5"},"value":37,"unit":"C\u0065l"})",
      e_));
  EXPECT_EQ(e_.id, "a\"b\\c");
  EXPECT_EQ(e_.patient, "p1");
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "temp");
  EXPECT_EQ(e_.value, 3700000000LL);
  ASSERT_FALSE(decoder_->Decode(
      R"({"id" : "x" , "patient" : "p2" , "time" : "2019-01-01T00:00:00Z" , "code" : { "code" : "8310-5" , "system" : "http://loinc.org" } , "value" : 37 , "unit" : "Cel" })",
      e_));
  EXPECT_EQ(e_.id, "x");
  EXPECT_EQ(e_.patient, "p2");
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "temp");
  auto reason = [&](const char* line) { return decoder_->Decode(line, e_).value_or("(decoded)"); };
  EXPECT_EQ(reason(R"({"id":1,"patient":"p","time":"2019-01-01T00:00:00Z","signal":"temp","value":37,"unit":"Cel"})"),
            "`id` must be a string");
  EXPECT_EQ(reason(R"({"id":"1","patient":"p","time":"2019-01-01T00:00:00Z","code":{"system":"http://loinc.org","code":85},"value":37,"unit":"Cel"})"),
            "`code.code` must be a string");
  // Keys may be written with escapes (RFC 8259 section 7: "\u0074" is "t"), the event's
  // and those inside `code`; other keys are ignored.
  ASSERT_FALSE(decoder_->Decode(
      R"({"\u0069d":"z","pa\u0074ient":"p3","ti\u006de":"2019-01-01T00:00:00Z","sign\u0061l":"temp","v\u0061lue":37,"uni\u0074":"Cel","n\u006fte":1})",
      e_));
  EXPECT_EQ(e_.id, "z");
  EXPECT_EQ(e_.patient, "p3");
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "temp");
  EXPECT_EQ(e_.value, 3700000000LL);
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"y","patient":"p","time":"2019-01-01T00:00:00Z","code":{"sys\u0074em":"http://loinc.org","note":"x","c\u006fde":"8310-5"},"value":37,"unit":"Cel"})",
      e_));
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "temp");
  EXPECT_EQ(reason(R"({"id":"1","patient":"p","time":"2019-01-01T00:00:00Z","code":{"sys\u0074en":"http://loinc.org","code":"8310-5"},"value":37,"unit":"Cel"})"),
            "`code` must have `system` and `code`");
  EXPECT_EQ(reason(R"({"id":"1","patient":"p","time":"2019-01-01T00:00:00Z","code":{"system":"http://loinc.org","c\u006fde":true},"value":37,"unit":"Cel"})"),
            "`code.code` must be a string");
}

TEST_F(DecoderTest, MapsValueSetCodesToTheirSignal) {
  ASSERT_FALSE(decoder_->Decode(
      R"({"id":"4","patient":"p","time":"2019-01-01T00:00:00Z","code":{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"11124"}})",
      e_));
  EXPECT_EQ(fe_.module.signals[static_cast<size_t>(e_.signal)].name, "antibiotic");
  EXPECT_EQ(interner_.Text(e_.value), "11124");
}

TEST_F(DecoderTest, GivesReasons) {
  auto reason = [&](const char* line) { return decoder_->Decode(line, e_).value_or("(decoded)"); };
  EXPECT_EQ(reason(R"({"id":"5","patient":"p","time":"2019-01-01T00:00:00Z","signal":"temp","value":38})"),
            "`temp` is a quantity in `Cel`; the event has no `unit`");
  EXPECT_EQ(reason(R"({"id":"5","patient":"p","time":"2019-01-01T00:00:00Z","signal":"temp","value":38,"unit":"degC"})"),
            "unit `degC` of `temp` is not a UCUM unit cdr knows (did you mean `Cel`?)");
  EXPECT_EQ(reason(R"({"id":"5","patient":"p","time":"2019-01-01T00:00:00Z","signal":"pulse"})"), "unknown signal `pulse`");
  EXPECT_EQ(reason(R"({"id":"5","patient":"","time":"2019-01-01T00:00:00Z","signal":"temp"})"), "missing `patient`");
  // Integers are 32-bit (docs/language.md): a larger integer value is refused, not wrapped.
  EXPECT_EQ(reason(R"({"id":"5","patient":"p","time":"2019-01-01T00:00:00Z","signal":"gcs","value":2147483648})"),
            "value `2147483648` of `gcs` is out of range for an integer");
  EXPECT_EQ(reason(R"({"id":"5","patient":"p","time":"2019-01-01T00:00:00Z","signal":"gcs","value":2147483647})"), "(decoded)");
}

// Found by fuzz_import_mimic: a CSV field with invalid UTF-8 made the importer write a
// line that is not JSON. Every imported event must decode.
TEST(Importers, MimicEventsAreValidJsonWhateverTheInput) {
  std::vector<std::string> tables = {
      "labevent_id,subject_id,itemid,charttime,storetime,valuenum\n1,10\xff,50912,2148-08-16 00:00:00,2148-08-16 01:30:00,.5\n",
      "subject_id,emar_id,charttime,medication,event_txt,storetime\n10,e\xc3,2148-08-16 02:00:00,Vancomycin,Administered,\n",
      "subject_id,micro_specimen_id,chartdate,charttime,spec_type_desc,storedate,storetime\n"
      "10,7,2148-08-16 00:00:00,2148-08-16 00:10:00,TISSUE,,\n",
      "subject_id,stay_id,charttime,storetime,itemid,value,valueuom\n10,3,2148-08-16 03:00:00,,226559,0060,m\xe9l\n"
      ",4,2148-08-16 04:00:00,,226559,10,ml\n"};  // no subject_id: skipped (found by fuzz_import_mimic)
  std::ostringstream err;
  auto lines = cdr::driver::MimicEventsFromText(tables, err);
  ASSERT_EQ(lines.size(), 4u) << err.str();
  cdr::driver::Frontend fe;
  std::string error;
  ASSERT_TRUE(fe.Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error));
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(fe.module, interner);
  cdr::runtime::Event e;
  for (const auto& line : lines) {
    auto reason = decoder.Decode(line, e);
    // The odd unit of the last table is refused by the decoder, with a reason, but the
    // line itself must be JSON.
    if (reason) {
      EXPECT_EQ(reason->find("not JSON"), std::string::npos) << line << ": " << *reason;
    }
  }
}

TEST(IrVerifier, AcceptsLoweredRulesAndRejectsBrokenOnes) {
  cdr::driver::Frontend fe;
  std::string error;
  ASSERT_TRUE(fe.Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error));
  ASSERT_EQ(fe.diags.error_count(), 0u);
  EXPECT_TRUE(cdr::ir::Verify(fe.module).empty());
  cdr::ir::Module broken = fe.module;
  auto& insts = broken.rules[0].blocks[0].insts;
  insts[0].a = 5;  // an operand defined after its use
  insts[0].op = cdr::ir::Op::Neg;
  broken.rules[0].whens[0].cond = 100000;
  auto problems = cdr::ir::Verify(broken);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("operand not defined before use"), std::string::npos);
  EXPECT_NE(problems[1].find("when condition"), std::string::npos);
}

}  // namespace
