// runtime/input_format.h: the ingest seam. An input format cuts its stream into records
// (an HL7 v2 message, a FHIR resource or Bundle) and translates each into events in the
// NDJSON event format (docs/events.md). Those events are read by the one mapper every
// input shares (EventDecoder: codes to signals through the schemas, units to the
// signal's unit, status to correction semantics, times), exactly as events given in that
// format are. A format knows its syntax only; what a code means is the schemas'.
//
// Adding a format: one file defining a subclass and its registration in
// input_format.cpp (docs/adding_an_input_format.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/line_reader.h"

namespace cdr::runtime {

/// The largest record a format gathers (a FHIR Bundle, an HL7 v2 message).
inline constexpr size_t kMaxRecordBytes = 64 << 20;

struct FormatOptions {
  /// HL7 v2: the senders' offset from UTC, in minutes east, for times written without
  /// one; nothing: such a time is refused.
  std::optional<int> default_offset_minutes;
};

/// One record of a stream, as its format's splitter gathered it.
struct Record {
  std::string_view text;
  uint64_t line = 0;         // the 1-based line (or segment) where it starts; a Kafka message's offset
  uint64_t last_line = 0;    // the line where it ends
  uint64_t end_offset = 0;   // bytes of the stream up to its end (where a reader continuing after it starts)
  uint64_t size = 0;         // its full size (more than text.size() when cut: refused as oversize)
};

/// An event in the NDJSON event format (docs/events.md), as a format fills it in.
struct EventFields {
  struct Coding {
    std::string system, code;
  };
  enum class Value { None, Number, Boolean, Text };
  std::string id, patient;
  int64_t time = 0;
  std::optional<int64_t> recorded;
  std::vector<Coding> codes;  // one: `code`; several (translations of one concept): `codes`
  Value value_kind = Value::None;
  std::string value;  // a Number's JSON text, a Text; Boolean: "true" or "false"
  std::string unit;   // UCUM, or empty
  std::string status;  // empty: final
  std::string kind;    // the kind of record (`order`), when not an observation or administration
  /// The event line.
  std::string ToLine() const;
};

/// A decimal as HL7 NM and FHIR write it (optional sign, digits, optional fraction) as a
/// JSON number (no `+`, no bare `.5`, no leading zeros), or nothing when it is not one.
std::optional<std::string> JsonDecimal(std::string_view text);

/// What a record became: its events (NDJSON event lines) and refusals, in its order.
struct Translation {
  struct Item {
    std::string event;   // an event line; empty for a refusal
    std::string reason;  // why a part of the record cannot be used (names the part: `OBX-3`, `entry[4]`)
  };
  std::vector<Item> items;
  /// Parts of the record that hold nothing to translate (an ADT message, a Patient
  /// resource): not errors, nothing is dead-lettered.
  size_t skipped = 0;
  /// The record itself cannot be read (it does not parse, it is not a resource, it is too
  /// large): its one refusal says why. A receiver answers so (MLLP AR, HTTP 400).
  bool malformed = false;
  void Event(std::string line) { items.push_back({std::move(line), {}}); }
  void Refuse(std::string reason) { items.push_back({{}, std::move(reason)}); }
  void Malformed(std::string reason) {
    malformed = true;
    Refuse(std::move(reason));
  }
  void Clear() {
    items.clear();
    skipped = 0;
    malformed = false;
  }
  /// The events, and the reasons of the refused parts, in order.
  size_t events() const;
  std::vector<std::string> reasons() const;
};

/// Where a splitter puts what it gathers.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnRecord(const Record& record) = 0;
  /// Text that belongs to no record (before the first, or a broken envelope), with why.
  virtual void OnStray(const Record& text, std::string reason) = 0;
};

/// Cuts a stream, given line by line, into records.
class RecordSplitter {
 public:
  virtual ~RecordSplitter() = default;
  /// One line without its terminator; `line_no` is 1-based, `end` the stream offset after
  /// it. Records completed by it go to `out` (a record is often known complete only when
  /// the next one starts).
  virtual void Add(const Line& line, uint64_t line_no, uint64_t end, RecordSink& out) = 0;
  /// The stream ended: the record being gathered is complete.
  virtual void Flush(RecordSink& out) = 0;
  /// The source has been quiet for a while (a live feed): a record that can only be
  /// known complete when the next begins is taken as complete.
  virtual void Idle(RecordSink& out) { (void)out; }
};

class InputFormat {
 public:
  virtual ~InputFormat() = default;
  virtual std::string_view name() const = 0;
  /// The file extensions of its files (`cdr import` searches directories for them).
  virtual std::vector<std::string_view> extensions() const = 0;
  /// Whether a CR alone ends a line, as well as LF and CRLF (HL7 v2 segments).
  virtual bool cr_ends_lines() const { return false; }
  /// The longest line read whole (a record may be one line: a minified FHIR Bundle).
  virtual size_t max_line_bytes() const { return 4 << 20; }
  virtual std::unique_ptr<RecordSplitter> Splitter() const = 0;
  /// Translates one record's text (`out` is cleared first).
  virtual void Translate(std::string_view record, Translation& out) const = 0;
  /// Translates one record as a splitter gathered it: one cut (over kMaxRecordBytes, or a
  /// line over max_line_bytes) is malformed; any other is Translate's.
  void TranslateRecord(const Record& record, Translation& out) const;
};

/// Reads a whole stream through `format`'s splitter (`cdr import`, tests). Returns the
/// read error that ended it early, or empty.
std::string SplitStream(const InputFormat& format, const ReadFn& in, RecordSink& out);

/// The format named `name` (see InputFormatNames), or null with the reason in `error`.
/// "ndjson" is the event format itself: it has no translator (null, no error).
std::unique_ptr<InputFormat> MakeInputFormat(std::string_view name, const FormatOptions& options, std::string& error);
/// The names MakeInputFormat knows, "ndjson" first.
std::vector<std::string_view> InputFormatNames();

/// A sender's offset from UTC (`+01:00`, `-05:30`, `Z`) in minutes east, or nothing.
std::optional<int> ParseUtcOffset(std::string_view text);

}  // namespace cdr::runtime
