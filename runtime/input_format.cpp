// runtime/input_format.cpp: the registry of input formats, and what they share: the
// event line they write, decimals, UTC offsets.
#include "runtime/input_format.h"

#include <algorithm>

#include "runtime/json_sink.h"
#include "runtime/sink.h"
#include "stdlib/time.h"

namespace cdr::runtime {

// The formats, each defined in its own file (runtime/format_*.cpp).
std::unique_ptr<InputFormat> MakeHl7v2Format(const FormatOptions& options);
std::unique_ptr<InputFormat> MakeFhirFormat(const FormatOptions& options);

namespace {

struct Registered {
  std::string_view name;
  std::unique_ptr<InputFormat> (*make)(const FormatOptions&);
};
// The registration: a new format adds its line here.
constexpr Registered kFormats[] = {
    {"ndjson", nullptr},  // the event format itself: read by the mapper directly
    {"hl7v2", MakeHl7v2Format},
    {"fhir", MakeFhirFormat},
};

}  // namespace

std::unique_ptr<InputFormat> MakeInputFormat(std::string_view name, const FormatOptions& options, std::string& error) {
  for (const Registered& f : kFormats) {
    if (f.name == name) return f.make ? f.make(options) : nullptr;
  }
  error = "unknown input format `" + std::string(name) + "` (";
  for (size_t i = 0; i < std::size(kFormats); ++i) error += (i ? ", " : "") + std::string(kFormats[i].name);
  error += ")";
  return nullptr;
}

std::vector<std::string_view> InputFormatNames() {
  std::vector<std::string_view> names;
  for (const Registered& f : kFormats) names.push_back(f.name);
  return names;
}

size_t Translation::events() const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [](const Item& i) { return !i.event.empty(); }));
}

std::vector<std::string> Translation::reasons() const {
  std::vector<std::string> out;
  for (const Item& i : items) {
    if (i.event.empty()) out.push_back(i.reason);
  }
  return out;
}

void InputFormat::TranslateRecord(const Record& record, Translation& out) const {
  if (record.size > record.text.size()) {
    out.Clear();
    return out.Malformed("a record of " + std::to_string(record.size) + " bytes, or a line of it, is over the limit (" +
                         std::to_string(kMaxRecordBytes) + " bytes a record, " + std::to_string(max_line_bytes()) +
                         " a line)");
  }
  Translate(record.text, out);
}

std::string SplitStream(const InputFormat& format, const ReadFn& in, RecordSink& out) {
  LineReader reader(in, format.max_line_bytes(), kMaxRefusedInput, format.cr_ends_lines());
  std::unique_ptr<RecordSplitter> splitter = format.Splitter();
  Line line;
  uint64_t line_no = 0;
  while (reader.Next(line)) splitter->Add(line, ++line_no, reader.consumed(), out);
  splitter->Flush(out);
  return reader.error();
}

std::optional<int> ParseUtcOffset(std::string_view text) {
  if (text == "Z") return 0;
  // `+01:00`, `-05:30`: read through an RFC 3339 time at the epoch.
  if (text.size() != 6) return std::nullopt;
  auto t = stdlib::ParseTime("1970-01-01T00:00:00" + std::string(text));
  if (!t) return std::nullopt;
  return static_cast<int>(-*t / 60000);
}

std::optional<std::string> JsonDecimal(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.erase(0, 1);
  size_t digits = 0, dots = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && dots == 0) {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0) return std::nullopt;
  if (s[0] == '.') s.insert(0, "0");
  if (s.back() == '.') s.pop_back();
  size_t lead = 0;  // leading zeros, keeping one before the point
  while (lead + 1 < s.size() && s[lead] == '0' && s[lead + 1] != '.') ++lead;
  s.erase(0, lead);
  return (negative ? "-" : "") + s;
}

std::string EventFields::ToLine() const {
  std::string line = "{\"id\":" + LossyJsonString(id) + ",\"patient\":" + LossyJsonString(patient) + ",\"time\":\"" +
                     stdlib::FormatTime(time) + "\"";
  if (recorded) line += ",\"recorded\":\"" + stdlib::FormatTime(*recorded) + "\"";
  auto coding = [](const Coding& c) {
    return "{\"system\":" + LossyJsonString(c.system) + ",\"code\":" + LossyJsonString(c.code) + "}";
  };
  if (codes.size() == 1) {
    line += ",\"code\":" + coding(codes[0]);
  } else if (!codes.empty()) {
    line += ",\"codes\":[";
    for (size_t i = 0; i < codes.size(); ++i) line += (i ? "," : "") + coding(codes[i]);
    line += "]";
  }
  switch (value_kind) {
    case Value::None: break;
    case Value::Number:
    case Value::Boolean: line += ",\"value\":" + value; break;
    case Value::Text: line += ",\"value\":" + LossyJsonString(value); break;
  }
  if (!unit.empty()) line += ",\"unit\":" + LossyJsonString(unit);
  if (!status.empty() && status != "final") line += ",\"status\":" + LossyJsonString(status);
  if (!kind.empty()) line += ",\"kind\":" + LossyJsonString(kind);
  return line + "}";
}

}  // namespace cdr::runtime
