// runtime/format_hl7v2.cpp: the HL7 v2 input format. A stream of messages (segments ended
// by CR, LF or CRLF; batches in FHS/BHS envelopes) is cut at each MSH; the OBX segments of
// an ORU^R01 become events (docs/ingest.md lists the mapping), codes and units carried as
// the message writes them. runtime/hl7v2.h reads the syntax.
#include <memory>
#include <string>

#include "runtime/hl7v2.h"
#include "runtime/input_format.h"

namespace cdr::runtime {
namespace {

namespace hl7 = hl7v2;

// HL7 table 0396 (coding systems) to the systems of docs/events.md; others as written.
std::string System(const std::string& hl7_system) {
  if (hl7_system == "LN") return "http://loinc.org";
  if (hl7_system == "SCT" || hl7_system == "SNM") return "http://snomed.info/sct";
  if (hl7_system == "RXNORM") return "http://www.nlm.nih.gov/research/umls/rxnorm";
  return hl7_system;
}

std::string Cut(std::string_view s, size_t n = 40) { return std::string(s.substr(0, n)) + (s.size() > n ? "..." : ""); }

bool Blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

// Messages start at MSH and end at the next, at a blank line, or at the end; the batch
// envelopes (FHS, BHS, BTS, FTS: section 2.10.3) belong to no message, and a batch
// trailer's count (BTS-1) is checked against its batch. A stream read from a checkpoint
// starts inside a batch whose start was read before: its trailer cannot be checked.
class Splitter final : public RecordSplitter {
 public:
  void Add(const Line& line, uint64_t line_no, uint64_t end, RecordSink& out) override {
    if (!started_) {
      started_ = true;
      if (line_no > 1) batch_ = kBatchBegunBefore;  // continued after a checkpoint
    }
    std::string_view text = line.text;
    // A UTF-8 byte order mark (files saved by editors, and files joined together).
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (Blank(text) && line.size == line.text.size()) {  // a blank line ends a message (none has one inside)
      if (open_) {
        end_ = end;
        Close(out);
      }
      return;
    }
    const std::string_view id = text.substr(0, 3);
    const Record self{line.text, line_no, line_no, end, line.size};
    if (id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS") {
      Close(out);
      if (id == "BHS") batch_ = 0;
      if (id == "BTS") Trailer(text, self, out);
      return;
    }
    if (id == "MSH") {
      Close(out);
      open_ = true;
      line_ = line_no;
      text_.clear();
      size_ = 0;
      if (batch_ >= 0) ++batch_;
    } else if (!open_) {
      out.OnStray(self, "segment `" + Cut(text, 20) + "` before any MSH (a message starts with its MSH segment)");
      return;
    } else {
      text_ += '\r';
      ++size_;
    }
    // Its full size: more than the text kept when a segment was cut (longer than the
    // reader's buffer) or the message grows past kMaxRecordBytes (refused as oversize).
    if (text_.size() + text.size() <= kMaxRecordBytes) text_.append(text);
    size_ += text.size() + (line.size - line.text.size());
    end_ = end;
    last_ = line_no;
  }
  void Flush(RecordSink& out) override { Close(out); }
  // A message is known complete when the next begins; on a quiet feed, when it goes quiet.
  void Idle(RecordSink& out) override { Close(out); }

 private:
  void Close(RecordSink& out) {
    if (!open_) return;
    open_ = false;
    out.OnRecord(Record{text_, line_, last_, end_, size_});
  }
  void Trailer(std::string_view text, const Record& self, RecordSink& out) {
    const int64_t messages = batch_;
    batch_ = -1;
    if (messages == kBatchBegunBefore) return;  // its BHS, and its first messages, were read before a checkpoint
    if (messages < 0) return out.OnStray(self, "BTS without a BHS before it");
    // BTS-1: the number of messages in the batch, when given.
    const char sep = text.size() > 3 ? text[3] : '|';
    std::string_view count = text.size() > 4 ? text.substr(4) : std::string_view();
    count = count.substr(0, count.find(sep));
    if (count.empty()) return;
    int64_t n = 0;
    for (char c : count) {
      if (c < '0' || c > '9' || n > 100000000) return out.OnStray(self, "BTS-1 `" + Cut(count) + "` is not a message count");
      n = n * 10 + (c - '0');
    }
    if (n != messages) {
      out.OnStray(self, "the batch trailer counts " + std::to_string(n) + " messages; the batch has " +
                            std::to_string(messages) + " (the batch's messages were read)");
    }
  }

  std::string text_;  // the message's segments, each ended by CR but the last
  uint64_t line_ = 0, last_ = 0, end_ = 0, size_ = 0;
  bool open_ = false;
  bool started_ = false;
  static constexpr int64_t kBatchBegunBefore = -2;
  int64_t batch_ = -1;  // messages since BHS, -1 outside a batch, or kBatchBegunBefore
};

class Hl7v2Format final : public InputFormat {
 public:
  explicit Hl7v2Format(const FormatOptions& options) : offset_(options.default_offset_minutes) {}
  std::string_view name() const override { return "hl7v2"; }
  bool cr_ends_lines() const override { return true; }
  std::vector<std::string_view> extensions() const override { return {".hl7"}; }
  std::unique_ptr<RecordSplitter> Splitter() const override { return std::make_unique<class Splitter>(); }

  void Translate(std::string_view text, Translation& out) const override {
    out.Clear();
    hl7::Message m;
    if (auto why = hl7::Parse(text, m)) return out.Malformed(*why);
    const hl7::Segment& msh = m.segments[0];
    if (msh.Get(9, 1) != "ORU" || msh.Get(9, 2) != "R01") {
      ++out.skipped;  // admissions and other messages hold no results
      return;
    }
    const hl7::Segment* pid = m.Find("PID");
    if (!pid) return out.Refuse("an ORU^R01 without PID: whose results they are is not said");
    // PID-3: the first identifier of the list, qualified by its assigning authority.
    const std::string id = pid->Get(3, 1), authority = pid->Get(3, 4);
    if (id.empty()) return out.Refuse("PID-3 has no patient identifier");
    const std::string patient = authority.empty() ? id : authority + "/" + id;
    const std::optional<int64_t> recorded = hl7::ParseTime(msh.Get(7), offset_);
    if (!recorded) return out.Refuse(TimeProblem("MSH-7", msh.Get(7)));
    const hl7::Segment* obr = nullptr;
    size_t observations = 0;
    for (size_t i = 0; i < m.segments.size(); ++i) {
      const hl7::Segment& s = m.segments[i];
      if (s.id() == "OBR") obr = &s;
      if (s.id() != "OBX") continue;
      ++observations;
      const std::string at = "OBX " + (s.Get(1).empty() ? "#" + std::to_string(observations) : s.Get(1)) + ": ";
      EventFields e;
      if (auto why = Observation(s, obr, msh, e)) {
        out.Refuse(at + *why);
        continue;
      }
      e.patient = patient;
      e.recorded = *recorded;
      out.Event(e.ToLine());
    }
    if (observations == 0) ++out.skipped;  // results without observations
  }

 private:
  std::string TimeProblem(const std::string& field, const std::string& text) const {
    if (text.empty()) return field + " is empty";
    return field + " `" + Cut(text) + "` is not an HL7 time" +
           (offset_ ? "" : " with a zone offset (the senders' offset can be given: --timezone)");
  }

  // One OBX as an event (its patient and recorded time are the message's), or why not.
  std::optional<std::string> Observation(const hl7::Segment& obx, const hl7::Segment* obr, const hl7::Segment& msh,
                                         EventFields& e) const {
    // OBX-11: F, P (preliminary) and R (not verified) are results; C corrects an earlier
    // one; W (wrong) and D (deleted) withdraw it.
    const std::string result_status = obx.Get(11);
    if (result_status == "F" || result_status == "P" || result_status == "R") {
      e.status = "final";
    } else if (result_status == "C") {
      e.status = "amended";
    } else if (result_status == "W" || result_status == "D") {
      e.status = "entered-in-error";
    } else {
      return "OBX-11 `" + Cut(result_status, 10) + "` is not a result status (F, P, R, C, W, D)";
    }
    const std::string code = obx.Get(3, 1);
    if (code.empty()) return "OBX-3 has no code";
    e.codes.push_back({System(obx.Get(3, 3)), code});
    // The alternate code (OBX-3.4 to 3.6), when given: a translation of the same concept.
    if (const std::string alt = obx.Get(3, 4); !alt.empty()) e.codes.push_back({System(obx.Get(3, 6)), alt});
    // OBX-14, else OBR-7 (the specimen's time): when it was true.
    std::string when = obx.Get(14), when_field = "OBX-14";
    if (when.empty() && obr) {
      when = obr->Get(7);
      when_field = "OBR-7";
    }
    const std::optional<int64_t> time = hl7::ParseTime(when, offset_);
    if (!time) return when.empty() ? "no observation time (OBX-14, OBR-7)" : TimeProblem(when_field, when);
    e.time = *time;
    // One id for an observation and its corrections: the order's filler number (else its
    // placer number, else the message's control id), the code, and OBX-4's sub-id.
    std::string order = obr ? obr->Get(3, 1) : "";
    if (order.empty() && obr) order = obr->Get(2, 1);
    if (order.empty()) order = msh.Get(10);
    e.id = order + "/" + code + (obx.Get(4).empty() ? "" : "/" + obx.Get(4));
    if (e.status == "entered-in-error") return std::nullopt;
    if (obx.Repetitions(5) > 1) return "OBX-5 holds several values";
    if (obx.Raw(5).empty()) return "OBX-5 is empty";
    // OBX-5 by OBX-2's value type.
    const std::string type = obx.Get(2);
    if (type == "NM" || type == "SN") {
      if (type == "SN" && (!(obx.Get(5, 1).empty() || obx.Get(5, 1) == "=") || !obx.Get(5, 3).empty())) {
        return "OBX-5 `" + Cut(obx.Raw(5)) + "` is a bound or a range (SN with a comparator or a second number), not a value";
      }
      const std::string number = obx.Get(5, type == "SN" ? 2 : 1);
      std::optional<std::string> json = JsonDecimal(number);
      if (!json) return "OBX-5 `" + Cut(number) + "` is not a number (OBX-2 " + type + ")";
      e.value_kind = EventFields::Value::Number;
      e.value = *json;
    } else if (type == "ST" || type == "TX" || type == "FT") {
      e.value_kind = EventFields::Value::Text;
      e.value = obx.Get(5);
    } else if (type == "CE" || type == "CWE" || type == "CNE") {
      e.value_kind = EventFields::Value::Text;
      e.value = obx.Get(5, 1);
    } else {
      return "OBX-2 value type `" + Cut(type, 10) + "` is not read (NM, SN, ST, TX, FT, CE, CWE, CNE)";
    }
    e.unit = obx.Get(6, 1);
    return std::nullopt;
  }

  std::optional<int> offset_;
};

}  // namespace

std::unique_ptr<InputFormat> MakeHl7v2Format(const FormatOptions& options) { return std::make_unique<Hl7v2Format>(options); }

}  // namespace cdr::runtime
