// compiler/driver/import_hl7v2.cpp: `cdr import hl7v2 PATH...`: the observations of HL7
// v2 ORU^R01 messages (runtime/hl7v2.h reads the syntax) as NDJSON events, in the order
// of the messages (docs/events.md lists the mapping). Codes and units are carried as the
// message writes them: the schema maps them to signals when the events are read.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "compiler/driver/commands.h"
#include "runtime/hl7v2.h"
#include "runtime/json_sink.h"
#include "runtime/output_file.h"
#include "stdlib/time.h"

namespace cdr::driver {
namespace {

namespace fs = std::filesystem;
namespace hl7 = runtime::hl7v2;

// HL7 table 0396 (coding systems) to the systems of docs/events.md; others as written.
std::string System(const std::string& hl7_system) {
  if (hl7_system == "LN") return "http://loinc.org";
  if (hl7_system == "SCT" || hl7_system == "SNM") return "http://snomed.info/sct";
  if (hl7_system == "RXNORM") return "http://www.nlm.nih.gov/research/umls/rxnorm";
  return hl7_system;
}

// A decimal as HL7's NM writes it: optional sign, digits, optional fraction.
bool IsNumber(std::string_view s) {
  size_t i = s.size() > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t digits = 0, dot = 0;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && dot == 0) {
      ++dot;
    } else {
      return false;
    }
  }
  return digits > 0;
}

// The JSON number of an NM value (no leading `+`, no bare `.5`).
std::string JsonNumber(std::string s) {
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.erase(0, 1);
  if (!s.empty() && s[0] == '.') s.insert(0, "0");
  if (!s.empty() && s.back() == '.') s.pop_back();
  size_t lead = 0;  // leading zeros, keeping one before the point
  while (lead + 1 < s.size() && s[lead] == '0' && s[lead + 1] != '.') ++lead;
  s.erase(0, lead);
  return (negative ? "-" : "") + s;
}

class Importer {
 public:
  Importer(std::optional<int> offset, std::ostream& err, Hl7v2ImportStats& stats)
      : offset_(offset), err_(err), stats_(stats) {}

  // The events of one message; problems go to `err` with `where`.
  void Message(std::string_view text, const std::string& where, std::vector<std::string>& events) {
    hl7::Message m;
    if (auto why = hl7::Parse(text, m)) return Problem(where, *why);
    const hl7::Segment& msh = m.segments[0];
    if (msh.Get(9, 1) != "ORU" || msh.Get(9, 2) != "R01") {
      ++stats_.skipped;  // admissions and other messages hold no results
      return;
    }
    const hl7::Segment* pid = m.Find("PID");
    if (!pid) return Problem(where, "an ORU^R01 without PID: whose results they are is not said");
    // PID-3: the first identifier of the list, qualified by its assigning authority.
    std::string id = pid->Get(3, 1), authority = pid->Get(3, 4);
    if (id.empty()) return Problem(where, "PID-3 has no patient identifier");
    const std::string patient = authority.empty() ? id : authority + "/" + id;
    std::optional<int64_t> recorded = hl7::ParseTime(msh.Get(7), offset_);
    if (!recorded) return Problem(where, TimeProblem("MSH-7", msh.Get(7)));
    const hl7::Segment* obr = nullptr;
    for (size_t i = 0; i < m.segments.size(); ++i) {
      const hl7::Segment& s = m.segments[i];
      if (s.id() == "OBR") obr = &s;
      if (s.id() != "OBX") continue;
      const std::string at = where + " OBX-" + (s.Get(1).empty() ? std::to_string(i) : s.Get(1));
      auto event = Observation(s, obr, msh, patient, *recorded, at);
      if (event) events.push_back(std::move(*event));
    }
    ++stats_.messages;
  }

 private:
  void Problem(const std::string& where, const std::string& why) {
    err_ << "cdr import: " << where << ": " << why << "; skipped\n";
    ++stats_.problems;
  }
  std::string TimeProblem(const std::string& field, const std::string& text) const {
    if (text.empty()) return field + " is empty";
    return field + " `" + text.substr(0, 40) + "` is not an HL7 time" +
           (offset_ ? "" : " with a zone offset (give the sender's with --timezone)");
  }

  std::optional<std::string> Observation(const hl7::Segment& obx, const hl7::Segment* obr, const hl7::Segment& msh,
                                         const std::string& patient, int64_t recorded, const std::string& at) {
    // OBX-11: F, P (preliminary) and R (not verified) are results; C corrects an earlier
    // one; W (wrong) and D (deleted) withdraw it.
    const std::string result_status = obx.Get(11);
    std::string status;
    if (result_status == "F" || result_status == "P" || result_status == "R") {
      status = "final";
    } else if (result_status == "C") {
      status = "amended";
    } else if (result_status == "W" || result_status == "D") {
      status = "entered-in-error";
    } else {
      Problem(at, "OBX-11 `" + result_status.substr(0, 10) + "` is not a result (F, P, R, C, W, D)");
      return std::nullopt;
    }
    const std::string code = obx.Get(3, 1), system = obx.Get(3, 3);
    if (code.empty()) {
      Problem(at, "OBX-3 has no code");
      return std::nullopt;
    }
    // OBX-14, else OBR-7 (the specimen's time): when it was true.
    std::string when = obx.Get(14);
    std::string when_field = "OBX-14";
    if (when.empty() && obr) {
      when = obr->Get(7);
      when_field = "OBR-7";
    }
    std::optional<int64_t> time = hl7::ParseTime(when, offset_);
    if (!time) {
      Problem(at, when.empty() ? "no observation time (OBX-14, OBR-7)" : TimeProblem(when_field, when));
      return std::nullopt;
    }
    // One id for an observation and its corrections: the order's filler number (else its
    // placer number, else the message's control id), the code, and OBX-4's sub-id.
    std::string order = obr ? obr->Get(3, 1) : "";
    if (order.empty() && obr) order = obr->Get(2, 1);
    if (order.empty()) order = msh.Get(10);
    std::string id = order + "/" + code + (obx.Get(4).empty() ? "" : "/" + obx.Get(4));
    std::string event = "{\"id\":" + runtime::LossyJsonString(id) + ",\"patient\":" +
                        runtime::LossyJsonString(patient) + ",\"time\":\"" + stdlib::FormatTime(*time) +
                        "\",\"recorded\":\"" + stdlib::FormatTime(recorded) + "\",\"code\":{\"system\":" +
                        runtime::LossyJsonString(System(system)) + ",\"code\":" + runtime::LossyJsonString(code) + "}";
    if (status != "final") event += ",\"status\":\"" + status + "\"";
    if (status == "entered-in-error") return event + "}";
    if (obx.Repetitions(5) > 1) {
      Problem(at, "OBX-5 holds several values");
      return std::nullopt;
    }
    if (obx.Raw(5).empty()) {
      Problem(at, "OBX-5 is empty");
      return std::nullopt;
    }
    // OBX-5 by OBX-2's value type.
    const std::string type = obx.Get(2);
    std::string value;
    if (type == "NM" || type == "SN") {
      std::string number = obx.Get(5, type == "SN" ? 2 : 1);
      if (type == "SN" && (!(obx.Get(5, 1).empty() || obx.Get(5, 1) == "=") || !obx.Get(5, 3).empty())) {
        Problem(at, "OBX-5 `" + std::string(obx.Raw(5).substr(0, 40)) +
                        "` is a bound or a range (SN with a comparator or a second number), not a value");
        return std::nullopt;
      }
      if (!IsNumber(number)) {
        Problem(at, "OBX-5 `" + number.substr(0, 40) + "` is not a number (OBX-2 " + type + ")");
        return std::nullopt;
      }
      value = JsonNumber(number);
    } else if (type == "ST" || type == "TX" || type == "FT") {
      value = runtime::LossyJsonString(obx.Get(5));
    } else if (type == "CE" || type == "CWE" || type == "CNE") {
      value = runtime::LossyJsonString(obx.Get(5, 1));
    } else {
      Problem(at, "OBX-2 value type `" + type.substr(0, 10) + "` is not read (NM, SN, ST, TX, FT, CE, CWE, CNE)");
      return std::nullopt;
    }
    event += ",\"value\":" + value;
    if (const std::string unit = obx.Get(6, 1); !unit.empty()) event += ",\"unit\":" + runtime::LossyJsonString(unit);
    return event + "}";
  }

  std::optional<int> offset_;
  std::ostream& err_;
  Hl7v2ImportStats& stats_;
};

}  // namespace

std::vector<std::string> Hl7v2EventsFromText(std::string_view text, const std::string& where,
                                             std::optional<int> offset_minutes, std::ostream& err,
                                             Hl7v2ImportStats& stats) {
  std::vector<std::string> events;
  Importer importer(offset_minutes, err, stats);
  std::vector<hl7::MessageText> messages;
  if (auto why = hl7::Split(text, messages)) {
    err << "cdr import: " << where << ": " << *why << "; the file is skipped\n";
    ++stats.problems;
    return events;
  }
  for (const hl7::MessageText& m : messages) importer.Message(m.text, where + ":" + std::to_string(m.line), events);
  return events;
}

int ImportHl7v2(const ImportOptions& o) {
  std::optional<int> offset;
  if (!o.timezone.empty()) {
    // `+01:00`, `-05:30`, `Z`: read through an RFC 3339 time at the epoch.
    auto t = stdlib::ParseTime("1970-01-01T00:00:00" + (o.timezone == "Z" ? std::string("Z") : o.timezone));
    if (!t || o.timezone.size() > 6) {
      std::cerr << "cdr import: --timezone `" << o.timezone << "` is not an offset such as +01:00, -05:30 or Z\n";
      return kUsage;
    }
    offset = static_cast<int>(-*t / 60000);
  }
  std::vector<fs::path> files;
  for (const std::string& path : o.paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
        if (e.is_regular_file() && e.path().extension() == ".hl7") files.push_back(e.path());
      }
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      std::cerr << "cdr import: " << path << " is not a file or a directory\n";
      return kUsage;
    }
  }
  std::sort(files.begin(), files.end());
  std::unique_ptr<runtime::OutputFile> file;
  std::ostream* out = OpenOutput(o.out, file, "cdr import");
  if (!out) return kUsage;
  size_t events = 0;
  Hl7v2ImportStats stats;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      std::cerr << "cdr import: cannot read " << path.string() << "\n";
      return kUsage;
    }
    for (const std::string& e : Hl7v2EventsFromText(text.str(), path.string(), offset, std::cerr, stats)) {
      *out << e << "\n";
      ++events;
    }
  }
  bool written = CloseOutput(out, file.get(), "cdr import");
  std::cerr << fmt::format("cdr import: {} files, {} ORU^R01 messages ({} other messages skipped), {} events{}\n",
                           files.size(), stats.messages, stats.skipped, events,
                           stats.problems ? fmt::format(", {} problems reported above", stats.problems) : "");
  return written ? kOk : kUsage;
}

}  // namespace cdr::driver
