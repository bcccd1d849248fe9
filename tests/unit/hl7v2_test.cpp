// tests/unit/hl7v2_test.cpp: the HL7 v2 pipe-and-hat syntax (runtime/hl7v2.h), checked
// against HL7 v2.5 chapter 2: MSH-1/MSH-2 declare the delimiters (2.5.4), fields,
// repetitions, components and subcomponents (2.5.3), escape sequences (2.7), batches
// (2.10.3), DTM times (2.A.22).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/driver/commands.h"
#include "runtime/hl7v2.h"
#include "stdlib/time.h"

namespace {

using namespace cdr::runtime::hl7v2;
namespace hl7v2 = cdr::runtime::hl7v2;

const char* kOru =
    "MSH|^~\\&|LAB|HOSP|CDR|HOSP|20240101120000+0100||ORU^R01^ORU_R01|MSG1|P|2.5.1\r"
    "PID|1||12345^^^HOSP^MR~98765^^^NHS^NH||Doe^Jane\r"
    "OBX|1|NM|8867-4^Heart rate^LN||93|/min^^UCUM|||||F|||20240101115500+0100\r"
    "OBX|2|ST|X1^Comment^L||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\ f\\X0D0A\\g \\H\\bold\\N\\||||||F\r";

TEST(Hl7v2, FieldsRepetitionsComponentsAsNumberedByTheStandard) {
  Message m;
  ASSERT_FALSE(Parse(kOru, m));
  EXPECT_EQ(m.encoding.field, '|');
  EXPECT_EQ(m.encoding.component, '^');
  EXPECT_EQ(m.encoding.repetition, '~');
  EXPECT_EQ(m.encoding.escape, '\\');
  EXPECT_EQ(m.encoding.subcomponent, '&');
  ASSERT_EQ(m.segments.size(), 4u);
  const Segment& msh = m.segments[0];
  EXPECT_EQ(msh.Get(1), "|");      // MSH-1: the field separator
  EXPECT_EQ(msh.Get(2), "^~\\&");  // MSH-2: the encoding characters, as written
  EXPECT_EQ(msh.Get(3), "LAB");
  EXPECT_EQ(msh.Get(7), "20240101120000+0100");
  EXPECT_EQ(msh.Get(9, 1), "ORU");
  EXPECT_EQ(msh.Get(9, 2), "R01");
  EXPECT_EQ(msh.Get(12), "2.5.1");
  const Segment* pid = m.Find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(pid->Repetitions(3), 2u);
  EXPECT_EQ(pid->Get(3, 1), "12345");
  EXPECT_EQ(pid->Get(3, 4), "HOSP");
  EXPECT_EQ(pid->Get(3, 1, 1, 1), "98765");
  EXPECT_EQ(pid->Get(3, 4, 1, 1), "NHS");
  EXPECT_EQ(pid->Get(3, 4, 1, 2), "");  // no third repetition
  EXPECT_EQ(pid->Get(2), "");          // empty field
  EXPECT_EQ(pid->Get(40), "");         // absent field
  const Segment* obx = m.Find("OBX");
  ASSERT_NE(obx, nullptr);
  EXPECT_EQ(obx->Get(3, 1), "8867-4");
  EXPECT_EQ(obx->Get(3, 3), "LN");
  EXPECT_EQ(obx->Get(5), "93");
  EXPECT_EQ(obx->Get(6, 1), "/min");
  EXPECT_EQ(obx->Get(11), "F");
  EXPECT_EQ(obx->Get(14), "20240101115500+0100");
  const Segment* obx2 = m.Find("OBX", 3);
  ASSERT_NE(obx2, nullptr);
  EXPECT_EQ(obx2->Get(1), "2");
  // 2.7.1: \F\ \S\ \T\ \R\ \E\ are the delimiters; \Xhh\ bytes; \H\ \N\ no text.
  EXPECT_EQ(obx2->Get(5), "a | b ^ c & d ~ e \\ f\r\ng bold");
}

TEST(Hl7v2, EscapesNotKnownOrNotClosedStayAsWritten) {
  Encoding enc;
  EXPECT_EQ(Unescape("\\Zlocal\\", enc), "\\Zlocal\\");
  EXPECT_EQ(Unescape("\\.br\\", enc), "\\.br\\");
  EXPECT_EQ(Unescape("a\\F", enc), "a\\F");
  EXPECT_EQ(Unescape("\\\\", enc), "\\\\");
  EXPECT_EQ(Unescape("\\X4\\", enc), "\\X4\\");      // an odd number of hex digits
  EXPECT_EQ(Unescape("\\XZZ\\", enc), "\\XZZ\\");    // not hexadecimal
  EXPECT_EQ(Unescape("\\X414243\\", enc), "ABC");
}

TEST(Hl7v2, TheMessageDeclaresItsOwnDelimiters) {
  // MSH-1 `#`; MSH-2: component `$`, repetition `%`, escape `@`, subcomponent `!`.
  Message m;
  ASSERT_FALSE(Parse("MSH#$%@!#LAB\nOBX#1#NM#8867-4$HR$LN##a$b!c%d@F@e", m));
  const Segment* obx = m.Find("OBX");
  ASSERT_NE(obx, nullptr);
  EXPECT_EQ(obx->Get(3, 2), "HR");
  EXPECT_EQ(obx->Get(5, 2, 2), "c");
  EXPECT_EQ(obx->Get(5, 1, 1, 1), "d#e");  // @F@ is the field separator `#`
  EXPECT_EQ(m.segments[0].Get(1), "#");
  EXPECT_EQ(m.segments[0].Get(2), "$%@!");
}

TEST(Hl7v2, SegmentsEndWithCrLfOrCrLf) {
  std::string cr = "MSH|^~\\&|A\rPID|1||7\rOBX|1|NM|x||5\r";
  std::string lf = "MSH|^~\\&|A\nPID|1||7\nOBX|1|NM|x||5\n";
  std::string crlf = "MSH|^~\\&|A\r\nPID|1||7\r\n\r\nOBX|1|NM|x||5";
  for (const std::string& text : {cr, lf, crlf}) {
    Message m;
    ASSERT_FALSE(Parse(text, m)) << text;
    ASSERT_EQ(m.segments.size(), 3u) << text;
    EXPECT_EQ(m.segments[1].Get(3), "7");
    EXPECT_EQ(m.segments[2].Get(5), "5");
  }
}

TEST(Hl7v2, MalformedMessagesAreRefusedWithTheReason) {
  Message m;
  auto reason = [&](const std::string& text) { return Parse(text, m).value_or("(parsed)"); };
  EXPECT_EQ(reason(""), "an empty message");
  EXPECT_EQ(reason("PID|1\r"), "a message starts with its MSH segment, not `PID`");
  EXPECT_EQ(reason("MSH|^~\r"), "MSH is too short to declare its encoding characters (MSH-1, MSH-2)");
  EXPECT_EQ(reason("MSH|^~\\|A|B\r"),
            "MSH-2 `^~\\` must hold the 4 encoding characters (component, repetition, escape, subcomponent)");
  EXPECT_EQ(reason("MSH|^~\\^|A\r"), "the encoding characters `|^~\\^` (MSH-1, MSH-2) must be distinct punctuation");
  EXPECT_EQ(reason("MSH|^~\\&|A\robx|1\r"), "line 2: `obx` is not a segment id (three capital letters or digits)");
  EXPECT_EQ(reason("MSH|^~\\&|A\rMSH|^~\\&|B\r"), "line 2: a second MSH in one message");
}

TEST(Hl7v2, StreamsSplitIntoMessagesWithTheirBatchEnvelopes) {
  const std::string stream =
      "FHS|^~\\&|LAB\r\nBHS|^~\\&|LAB\r\nMSH|^~\\&|A\r\nPID|1||1\r\nMSH|^~\\&|B\r\nPID|1||2\r\nBTS|2\r\nFTS|1\r\n";
  std::vector<MessageText> messages;
  ASSERT_FALSE(Split(stream, messages));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].text, "MSH|^~\\&|A\r\nPID|1||1");
  EXPECT_EQ(messages[0].line, 3u);
  EXPECT_EQ(messages[1].text, "MSH|^~\\&|B\r\nPID|1||2");
  EXPECT_EQ(messages[1].line, 5u);
  // A UTF-8 byte order mark before the first segment (as files saved by editors have).
  ASSERT_FALSE(Split("\xEF\xBB\xBFMSH|^~\\&|A\rPID|1\r", messages));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].text, "MSH|^~\\&|A\rPID|1");
  // Without envelopes, messages one after another.
  ASSERT_FALSE(Split("MSH|^~\\&|A\rPID|1\r\rMSH|^~\\&|B\r", messages));
  EXPECT_EQ(messages.size(), 2u);
  auto reason = [&](const std::string& text) { return Split(text, messages).value_or("(split)"); };
  EXPECT_EQ(reason("BHS|^~\\&\rMSH|^~\\&|A\rBTS|3\r"), "line 3: the batch trailer counts 3 messages; the batch has 1");
  EXPECT_EQ(reason("PID|1\rMSH|^~\\&|A\r"), "line 1: segment `PID|1` before any MSH");
  EXPECT_EQ(reason("MSH|^~\\&|A\rBTS|1\r"), "line 2: BTS without a BHS before it");
  EXPECT_EQ(reason("BHS|^~\\&\rMSH|^~\\&|A\rBTS|one\r"), "line 3: BTS-1 `one` is not a message count");
}

TEST(Hl7v2, DtmTimesWithTheirOffsetOrTheSendersDefault) {
  using cdr::stdlib::ParseTime;
  EXPECT_EQ(hl7v2::ParseTime("20240101120000+0100", std::nullopt), ParseTime("2024-01-01T11:00:00Z"));
  EXPECT_EQ(hl7v2::ParseTime("20240101120000-0530", 60), ParseTime("2024-01-01T17:30:00Z"));
  EXPECT_EQ(hl7v2::ParseTime("202401011200", 0), ParseTime("2024-01-01T12:00:00Z"));
  EXPECT_EQ(hl7v2::ParseTime("2024", 120), ParseTime("2023-12-31T22:00:00Z"));
  EXPECT_EQ(hl7v2::ParseTime("20240101120000.1234+0000", std::nullopt), ParseTime("2024-01-01T12:00:00.123Z"));
  EXPECT_EQ(hl7v2::ParseTime("20240101120000.5+0000", std::nullopt), ParseTime("2024-01-01T12:00:00.500Z"));
  EXPECT_EQ(hl7v2::ParseTime("20240101120000", std::nullopt), std::nullopt);  // local time, no default
  EXPECT_EQ(hl7v2::ParseTime("20240230", 0), std::nullopt);                   // 30 February
  EXPECT_EQ(hl7v2::ParseTime("2024010112000", 0), std::nullopt);              // an odd digit
  EXPECT_EQ(hl7v2::ParseTime("20240101120000.", 0), std::nullopt);
  EXPECT_EQ(hl7v2::ParseTime("20240101120000+01", 0), std::nullopt);
  EXPECT_EQ(hl7v2::ParseTime("", 0), std::nullopt);
}

// The HL7 v2 samples beside the clone (SIMhospital's and the Microsoft FHIR converter's
// test messages): every file splits into messages, every message parses, and each ORU^R01
// carries observations.
TEST(Hl7v2, TheSharedSamplesParse) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(CDR_SOURCE_DIR) / ".." / "shared" / "data" / "hl7v2";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " is not beside the clone";
  size_t files = 0, oru = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".hl7") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const std::string stream = text.str();
    std::vector<MessageText> messages;
    ASSERT_FALSE(Split(stream, messages)) << entry.path();
    ASSERT_FALSE(messages.empty()) << entry.path();
    for (const MessageText& t : messages) {
      Message m;
      auto why = Parse(t.text, m);
      ASSERT_FALSE(why) << entry.path() << ": " << *why;
      if (m.segments[0].Get(9, 1) != "ORU") continue;
      ++oru;
      EXPECT_NE(m.Find("OBX"), nullptr) << entry.path();
    }
    ++files;
  }
  EXPECT_GE(files, 14u);
  EXPECT_GE(oru, 5u);
}


// `cdr import hl7v2`: each OBX of an ORU^R01 as an event (docs/events.md, "cdr import
// hl7v2"), every line below written by hand from that mapping.
TEST(Hl7v2Import, ObservationsOfOruR01AsEvents) {
  const std::string oru =
      "MSH|^~\\&|LAB|HOSP|CDR|HOSP|20240101121500+0100||ORU^R01|CTRL1|P|2.5.1\r"
      "PID|1||12345^^^HOSP^MR~999^^^NHS^NH||Doe^Jane\r"
      "OBR|1|PL1|FIL1|panel^Panel^L|||20240101113000+0100\r"
      "OBX|1|NM|8867-4^Heart rate^LN||+093.50|/min^^UCUM|||||F|||20240101115500+0100\r"
      "OBX|2|SN|2823-3^Potassium^LN||=^5.1|mmol/L|||||C\r"
      "OBX|3|CWE|600-7^Blood culture^LN|1|112283007^E. coli^SCT||||||P|||20240101115500+0100\r"
      "OBX|4|ST|NOTE^Note^99LOCAL||a\\F\\b||||||F|||20240101115500+0100\r"
      "OBX|5|NM|2160-0^Creatinine^LN||||||||W|||20240101115500+0100\r"
      "OBX|6|SN|2345-7^Glucose^LN||<^3.0|mmol/L|||||F\r"
      "OBX|7|NM|2524-7^Lactate^LN||2.1~2.2|mmol/L|||||F\r"
      "OBX|8|NM|777-3^Platelets^LN||||||||F\r"
      "OBX|9|NM|6690-2^WBC^LN||12|10*3/uL|||||X\r"
      "OBX|10|NM|9279-1^Resp rate^LN||20|/min|||||F|||20240101115500\r"
      "MSH|^~\\&|ADT|HOSP|CDR|HOSP|20240101121500+0100||ADT^A01|CTRL2|P|2.5.1\r"
      "PID|1||12345^^^HOSP^MR\r";
  std::ostringstream err;
  cdr::driver::Hl7v2ImportStats stats;
  auto events = cdr::driver::Hl7v2EventsFromText(oru, "oru.hl7", std::nullopt, err, stats);
  const std::string head = R"({"id":"FIL1/)";
  const std::string who = R"(","patient":"HOSP/12345",)";
  const std::string rec = R"("recorded":"2024-01-01T11:15:00Z",)";
  std::vector<std::string> want = {
      // NM: the number as JSON (+093.50 is 93.50); OBX-6.1 the unit; OBX-14 the time.
      head + "8867-4" + who + R"("time":"2024-01-01T10:55:00Z",)" + rec +
          R"("code":{"system":"http://loinc.org","code":"8867-4"},"value":93.50,"unit":"/min"})",
      // SN `=^5.1` is 5.1; C corrects; no OBX-14: the time is OBR-7's.
      head + "2823-3" + who + R"("time":"2024-01-01T10:30:00Z",)" + rec +
          R"("code":{"system":"http://loinc.org","code":"2823-3"},"status":"amended","value":5.1,"unit":"mmol/L"})",
      // CWE: the code is the value; OBX-4 sub-id in the id; P is a result; SCT is SNOMED CT.
      head + "600-7/1" + who + R"("time":"2024-01-01T10:55:00Z",)" + rec +
          R"("code":{"system":"http://loinc.org","code":"600-7"},"value":"112283007"})",
      // ST: unescaped; a local coding system as written.
      head + "NOTE" + who + R"("time":"2024-01-01T10:55:00Z",)" + rec +
          R"("code":{"system":"99LOCAL","code":"NOTE"},"value":"a|b"})",
      // W: withdrawn, no value needed.
      head + "2160-0" + who + R"("time":"2024-01-01T10:55:00Z",)" + rec +
          R"("code":{"system":"http://loinc.org","code":"2160-0"},"status":"entered-in-error"})",
  };
  ASSERT_EQ(events.size(), want.size()) << err.str();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(events[i], want[i]) << i;
  EXPECT_EQ(stats.messages, 1u);
  EXPECT_EQ(stats.skipped, 1u);  // the ADT^A01
  EXPECT_EQ(stats.problems, 5u);
  const std::string problems = err.str();
  EXPECT_NE(problems.find("oru.hl7:1 OBX-6: OBX-5 `<^3.0` is a bound or a range (SN with a comparator or a second "
                          "number), not a value; skipped"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("oru.hl7:1 OBX-7: OBX-5 holds several values; skipped"), std::string::npos) << problems;
  EXPECT_NE(problems.find("oru.hl7:1 OBX-8: OBX-5 is empty; skipped"), std::string::npos) << problems;
  EXPECT_NE(problems.find("oru.hl7:1 OBX-9: OBX-11 `X` is not a result (F, P, R, C, W, D); skipped"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("oru.hl7:1 OBX-10: OBX-14 `20240101115500` is not an HL7 time with a zone offset (give the "
                          "sender's with --timezone); skipped"),
            std::string::npos)
      << problems;
  // With the senders' offset given, a time without one is read in it.
  std::ostringstream err2;
  cdr::driver::Hl7v2ImportStats stats2;
  auto again = cdr::driver::Hl7v2EventsFromText(oru, "oru.hl7", 60, err2, stats2);
  ASSERT_EQ(again.size(), want.size() + 1);
  EXPECT_EQ(again.back(), head + "9279-1" + who + R"("time":"2024-01-01T10:55:00Z",)" + rec +
                              R"("code":{"system":"http://loinc.org","code":"9279-1"},"value":20,"unit":"/min"})");
}

}  // namespace
