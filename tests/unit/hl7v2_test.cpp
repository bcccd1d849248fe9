// tests/unit/hl7v2_test.cpp: the HL7 v2 pipe-and-hat syntax (runtime/hl7v2.h), checked
// against HL7 v2.5 chapter 2: MSH-1/MSH-2 declare the delimiters (2.5.4), fields,
// repetitions, components and subcomponents (2.5.3), escape sequences (2.7), batches
// (2.10.3), DTM times (2.A.22).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/hl7v2.h"
#include "runtime/input_format.h"
#include "stdlib/time.h"

namespace {

using namespace cdr::runtime::hl7v2;
namespace hl7v2 = cdr::runtime::hl7v2;

// A stream cut into records by the hl7v2 format's splitter.
struct Split : cdr::runtime::RecordSink {
  std::vector<std::pair<std::string, uint64_t>> records;  // text, line
  std::vector<std::string> strays;                        // "line N: reason"
  void OnRecord(const cdr::runtime::Record& r) override { records.emplace_back(std::string(r.text), r.line); }
  void OnStray(const cdr::runtime::Record& r, std::string reason) override {
    strays.push_back("line " + std::to_string(r.line) + ": " + reason);
  }
};
Split SplitHl7(const std::string& text) {
  std::string error;
  auto format = cdr::runtime::MakeInputFormat("hl7v2", {}, error);
  std::istringstream in(text);
  Split split;
  EXPECT_EQ(cdr::runtime::SplitStream(*format, cdr::runtime::StreamSource(in), split), "");
  return split;
}

TEST(Hl7v2, StreamsSplitIntoMessagesWithTheirBatchEnvelopes) {
  Split s = SplitHl7("FHS|^~\\&|LAB\r\nBHS|^~\\&|LAB\r\nMSH|^~\\&|A\r\nPID|1||1\r\nMSH|^~\\&|B\r\nPID|1||2\r\nBTS|2\r\nFTS|1\r\n");
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_TRUE(s.strays.empty());
  // Segments of a message are joined by CR, whatever ended them in the stream.
  EXPECT_EQ(s.records[0], std::make_pair(std::string("MSH|^~\\&|A\rPID|1||1"), uint64_t{3}));
  EXPECT_EQ(s.records[1], std::make_pair(std::string("MSH|^~\\&|B\rPID|1||2"), uint64_t{5}));
  // A UTF-8 byte order mark before the first segment (as files saved by editors have).
  s = SplitHl7("\xEF\xBB\xBFMSH|^~\\&|A\rPID|1\r");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].first, "MSH|^~\\&|A\rPID|1");
  // Without envelopes, messages one after another; LF, CR and CRLF alike; blank lines skipped.
  s = SplitHl7("MSH|^~\\&|A\rPID|1\r\rMSH|^~\\&|B\nPID|2\n\nMSH|^~\\&|C");
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.records[1].first, "MSH|^~\\&|B\rPID|2");
  // Text that belongs to no message is refused with its line; the messages are read.
  auto strays = [](const std::string& text) {
    Split split = SplitHl7(text);
    return std::make_pair(split.records.size(), split.strays.empty() ? std::string("(none)") : split.strays[0]);
  };
  EXPECT_EQ(strays("BHS|^~\\&\rMSH|^~\\&|A\rBTS|3\r"),
            std::make_pair(size_t{1}, std::string("line 3: the batch trailer counts 3 messages; the batch has 1 (the "
                                                  "batch's messages were read)")));
  EXPECT_EQ(strays("PID|1\rMSH|^~\\&|A\r"),
            std::make_pair(size_t{1}, std::string("line 1: segment `PID|1` before any MSH (a message starts with its MSH "
                                                  "segment)")));
  EXPECT_EQ(strays("MSH|^~\\&|A\rBTS|1\r"), std::make_pair(size_t{1}, std::string("line 2: BTS without a BHS before it")));
  EXPECT_EQ(strays("BHS|^~\\&\rMSH|^~\\&|A\rBTS|one\r"),
            std::make_pair(size_t{1}, std::string("line 3: BTS-1 `one` is not a message count")));
}

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

// A stream continued from a checkpoint starts after its first line, maybe inside a batch
// whose BHS was read before: its trailer is not refused (its count cannot be checked); a
// stream from its start still refuses a BTS without a BHS.
TEST(Hl7v2, ABatchContinuedFromACheckpointEndsWithoutAStray) {
  std::string error;
  auto format = cdr::runtime::MakeInputFormat("hl7v2", {}, error);
  auto feed = [&](uint64_t first_line) {
    Split split;
    auto splitter = format->Splitter();
    uint64_t n = first_line, offset = 0;
    for (std::string_view text : {"MSH|^~\\&|B", "PID|1||2", "BTS|5", "FTS|1"}) {
      offset += text.size() + 1;
      splitter->Add(cdr::runtime::Line{text, text.size(), text.size()}, n++, offset, split);
    }
    splitter->Flush(split);
    return split;
  };
  Split continued = feed(40);
  EXPECT_EQ(continued.records.size(), 1u);
  EXPECT_TRUE(continued.strays.empty()) << continued.strays[0];
  Split fresh = feed(1);
  ASSERT_EQ(fresh.strays.size(), 1u);
  EXPECT_EQ(fresh.strays[0], "line 3: BTS without a BHS before it");
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
    const Split split = SplitHl7(text.str());
    ASSERT_TRUE(split.strays.empty()) << entry.path() << ": " << split.strays[0];
    ASSERT_FALSE(split.records.empty()) << entry.path();
    for (const auto& [record, line] : split.records) {
      Message m;
      auto why = Parse(record, m);
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


}  // namespace
