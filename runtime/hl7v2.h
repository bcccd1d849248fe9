// runtime/hl7v2.h: HL7 version 2 messages in their pipe-and-hat encoding (HL7 v2.5,
// chapter 2): segments, fields, repetitions, components, subcomponents, escape
// sequences, batches, and DTM times. Only the syntax: what an ORU^R01's OBX segments mean
// to the rules is the ingest mapper's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cdr::runtime::hl7v2 {

/// The delimiters a message declares in MSH-1 and MSH-2 (section 2.5.4).
struct Encoding {
  char field = '|', component = '^', repetition = '~', escape = '\\', subcomponent = '&';
};

/// One segment of a message. Fields are numbered as HL7 numbers them: field 0 is the
/// segment id; in MSH, field 1 is the field separator and field 2 the encoding
/// characters (MSH-1, MSH-2), taken as they are.
class Segment {
 public:
  Segment(std::string_view text, const Encoding& enc, bool msh);
  std::string_view id() const { return fields_.empty() ? std::string_view() : fields_[0]; }
  /// Field n as written (escapes and delimiters in it), empty when absent.
  std::string_view Raw(size_t n) const { return n < fields_.size() ? fields_[n] : std::string_view(); }
  size_t size() const { return fields_.size(); }
  /// The number of repetitions of field n (0 when empty or absent).
  size_t Repetitions(size_t n) const;
  /// Repetition `rep` (0-based) of field n, component c and subcomponent s (1-based, as
  /// HL7 writes `OBX-3.1`), unescaped. Empty when absent.
  std::string Get(size_t n, size_t c = 1, size_t s = 1, size_t rep = 0) const;

 private:
  Encoding enc_;  // its message's (a copy: a segment stays valid when its message moves)
  std::vector<std::string_view> fields_;
};

/// A message: its encoding and segments, in order. Views into the text parsed, which must
/// outlive it.
struct Message {
  Encoding encoding;
  std::vector<Segment> segments;
  /// The first segment with this id at or after `from`, or null.
  const Segment* Find(std::string_view id, size_t from = 0) const;
};

/// Parses one message (its segments separated by CR, LF or CRLF; the first is MSH). On
/// failure, nothing is filled and the reason is returned.
std::optional<std::string> Parse(std::string_view text, Message& out);

/// Unescapes a value (section 2.7): \F\ \S\ \T\ \R\ \E\ are the delimiters, \Xhh..\ bytes
/// in hexadecimal; \H\ and \N\ (highlighting) are dropped; an escape not known, or not
/// closed, is kept as written.
std::string Unescape(std::string_view raw, const Encoding& enc);

/// Escapes text for a field (section 2.7): the delimiters as \F\ \S\ \T\ \R\ \E\, and
/// CR and LF, which would end the segment, as \X0D\ and \X0A\.
std::string Escape(std::string_view text, const Encoding& enc);

/// An HL7 DTM time (YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ], section 2.A.22) in
/// milliseconds since the epoch. A time without a zone offset is in the sender's local
/// time: `default_offset_minutes` east of UTC, or nothing when that is not given.
std::optional<int64_t> ParseTime(std::string_view dtm, std::optional<int> default_offset_minutes);

}  // namespace cdr::runtime::hl7v2
