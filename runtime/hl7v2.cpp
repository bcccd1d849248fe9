// runtime/hl7v2.cpp: the pipe-and-hat encoding of HL7 v2 messages.
#include "runtime/hl7v2.h"

#include <cctype>
#include <cstdio>

#include "stdlib/time.h"

namespace cdr::runtime::hl7v2 {

namespace {

// The parts of `text` between separators `sep` (one part when there is none).
std::vector<std::string_view> SplitOn(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Part `index` (0-based) of `text` between separators, empty when absent.
std::string_view PartOf(std::string_view text, char sep, size_t index) {
  size_t start = 0;
  for (size_t k = 0; k < index; ++k) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) return {};
    start = at + 1;
  }
  size_t end = text.find(sep, start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// The lines of `text` (CR, LF or CRLF ended), each with its 1-based number and offset.
struct Line {
  std::string_view text;
  size_t offset = 0;
  uint64_t number = 0;
};
std::vector<Line> Lines(std::string_view text) {
  std::vector<Line> lines;
  size_t start = 0;
  uint64_t number = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n') continue;
    lines.push_back(Line{text.substr(start, i - start), start, number++});
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(Line{text.substr(start), start, number});
  return lines;
}

bool Blank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

bool IsSegmentId(std::string_view id) {
  if (id.size() != 3) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Segment::Segment(std::string_view text, const Encoding& enc, bool msh) : enc_(enc) {
  std::vector<std::string_view> parts = SplitOn(text, enc.field);
  if (!msh) {
    fields_ = std::move(parts);
    return;
  }
  // "MSH|^~\&|..." splits into MSH, ^~\&, ...: MSH-1 (the separator itself) goes between.
  fields_.reserve(parts.size() + 1);
  fields_.push_back(parts[0]);
  fields_.push_back(text.substr(3, 1));
  for (size_t i = 1; i < parts.size(); ++i) fields_.push_back(parts[i]);
}

size_t Segment::Repetitions(size_t n) const {
  std::string_view raw = Raw(n);
  if (raw.empty()) return 0;
  if (id() == "MSH" && n <= 2) return 1;
  return SplitOn(raw, enc_.repetition).size();
}

std::string Segment::Get(size_t n, size_t c, size_t s, size_t rep) const {
  std::string_view raw = Raw(n);
  if (id() == "MSH" && n <= 2) return c == 1 && s == 1 && rep == 0 ? std::string(raw) : std::string();
  if (c == 0 || s == 0) return {};
  std::string_view part = PartOf(PartOf(PartOf(raw, enc_.repetition, rep), enc_.component, c - 1), enc_.subcomponent, s - 1);
  return Unescape(part, enc_);
}

const Segment* Message::Find(std::string_view id, size_t from) const {
  for (size_t i = from; i < segments.size(); ++i) {
    if (segments[i].id() == id) return &segments[i];
  }
  return nullptr;
}

std::optional<std::string> Parse(std::string_view text, Message& out) {
  std::vector<Line> lines = Lines(text);
  size_t first = 0;
  while (first < lines.size() && Blank(lines[first].text)) ++first;
  if (first == lines.size()) return "an empty message";
  std::string_view msh = lines[first].text;
  if (msh.substr(0, 3) != "MSH") return "a message starts with its MSH segment, not `" + std::string(msh.substr(0, 3)) + "`";
  if (msh.size() < 8) return "MSH is too short to declare its encoding characters (MSH-1, MSH-2)";
  Encoding enc;
  enc.field = msh[3];
  std::string_view chars = msh.substr(4, msh.find(enc.field, 4) - 4);
  // Component, repetition, escape, subcomponent; v2.7 adds a truncation character.
  if (chars.size() != 4 && chars.size() != 5) {
    return "MSH-2 `" + std::string(chars) + "` must hold the 4 encoding characters (component, repetition, escape, "
           "subcomponent)";
  }
  std::string all = std::string(1, enc.field) + std::string(chars);
  for (size_t i = 0; i < all.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(all[i]);
    if (std::isalnum(ch) || ch < 0x20 || all.find(all[i], i + 1) != std::string::npos) {
      return "the encoding characters `" + all + "` (MSH-1, MSH-2) must be distinct punctuation";
    }
  }
  enc.component = chars[0];
  enc.repetition = chars[1];
  enc.escape = chars[2];
  enc.subcomponent = chars[3];
  std::vector<Segment> segments;
  for (size_t i = first; i < lines.size(); ++i) {
    if (Blank(lines[i].text)) continue;
    std::string_view id = lines[i].text.substr(0, lines[i].text.find(enc.field));
    if (!IsSegmentId(id)) {
      return "line " + std::to_string(lines[i].number) + ": `" + std::string(id.substr(0, 20)) +
             "` is not a segment id (three capital letters or digits)";
    }
    if (i > first && id == "MSH") return "line " + std::to_string(lines[i].number) + ": a second MSH in one message";
    segments.emplace_back(lines[i].text, enc, i == first);
  }
  out.encoding = enc;
  out.segments = std::move(segments);
  return std::nullopt;
}

std::string Unescape(std::string_view raw, const Encoding& enc) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != enc.escape) {
      out += raw[i];
      continue;
    }
    size_t close = raw.find(enc.escape, i + 1);
    if (close == std::string_view::npos || close == i + 1) {  // not closed, or empty: as written
      out += raw[i];
      continue;
    }
    std::string_view seq = raw.substr(i + 1, close - i - 1);
    bool known = true;
    if (seq == "F") {
      out += enc.field;
    } else if (seq == "S") {
      out += enc.component;
    } else if (seq == "T") {
      out += enc.subcomponent;
    } else if (seq == "R") {
      out += enc.repetition;
    } else if (seq == "E") {
      out += enc.escape;
    } else if (seq == "H" || seq == "N") {
      // start and end of highlighting: no text
    } else if (seq[0] == 'X' && seq.size() >= 3 && seq.size() % 2 == 1) {
      std::string bytes;
      for (size_t k = 1; k + 1 < seq.size() && known; k += 2) {
        int hi = Hex(seq[k]), lo = Hex(seq[k + 1]);
        if (hi < 0 || lo < 0) known = false;
        bytes += static_cast<char>(hi * 16 + lo);
      }
      if (known) out += bytes;
    } else {
      known = false;
    }
    if (!known) {
      out.append(raw.substr(i, close - i + 1));
    }
    i = close;
  }
  return out;
}

std::string Escape(std::string_view text, const Encoding& enc) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const char* seq = c == enc.field ? "F" : c == enc.component ? "S" : c == enc.subcomponent ? "T"
                    : c == enc.repetition ? "R" : c == enc.escape ? "E" : c == '\r' ? "X0D" : c == '\n' ? "X0A" : nullptr;
    if (seq) {
      out += enc.escape;
      out += seq;
      out += enc.escape;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<int64_t> ParseTime(std::string_view dtm, std::optional<int> default_offset_minutes) {
  size_t i = 0;
  auto digits = [&](size_t n) -> std::optional<int> {
    if (i + n > dtm.size()) return std::nullopt;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = dtm[i + k];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    i += n;
    return v;
  };
  auto more_digits = [&] { return i < dtm.size() && dtm[i] >= '0' && dtm[i] <= '9'; };
  auto year = digits(4);
  if (!year) return std::nullopt;
  int parts[5] = {1, 1, 0, 0, 0};  // month, day, hour, minute, second
  for (int& p : parts) {
    if (!more_digits()) break;
    auto v = digits(2);
    if (!v) return std::nullopt;
    p = *v;
  }
  int millis = 0;
  if (i < dtm.size() && dtm[i] == '.') {
    ++i;
    int n = 0;
    while (more_digits() && n < 4) {
      if (n < 3) millis = millis * 10 + (dtm[i] - '0');  // the fourth digit (1/10 ms) is dropped
      ++i;
      ++n;
    }
    if (n == 0) return std::nullopt;
    for (int k = n; k < 3; ++k) millis *= 10;
  }
  std::optional<int> offset = default_offset_minutes;
  if (i < dtm.size() && (dtm[i] == '+' || dtm[i] == '-')) {
    int sign = dtm[i] == '-' ? -1 : 1;
    ++i;
    auto hh = digits(2);
    auto mm = digits(2);
    if (!hh || !mm || *hh > 23 || *mm > 59) return std::nullopt;
    offset = sign * (*hh * 60 + *mm);
  }
  if (i != dtm.size() || !offset) return std::nullopt;
  char text[64];
  int off = *offset < 0 ? -*offset : *offset;
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", *year, parts[0], parts[1], parts[2],
                parts[3], parts[4], millis, *offset < 0 ? '-' : '+', off / 60, off % 60);
  return stdlib::ParseTime(text);
}

}  // namespace cdr::runtime::hl7v2
