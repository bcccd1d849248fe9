// runtime/decode.h: one line of the NDJSON event format (docs/events.md) to a normalized
// event, with simdjson: code-to-signal mapping, unit conversion to the signal's unit,
// and a precise reason for every line that cannot be used.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <absl/container/flat_hash_map.h>

#include "compiler/ir/ir.h"
#include "runtime/event.h"
#include "runtime/interpreter.h"

namespace cdr::runtime {

/// The largest event line accepted (docs/robustness.md).
inline constexpr size_t kMaxEventBytes = 1 << 20;

struct RawEvent;

class EventDecoder {
 public:
  EventDecoder(const ir::Module& module, Interner& interner);
  ~EventDecoder();

  /// Decodes one line. Returns nothing on success (filling `event`), otherwise the
  /// dead-letter reason. Copies the line into a padded buffer first.
  std::optional<std::string> Decode(std::string_view line, Event& event);
  /// The same, in place: `readable` bytes from line.data() may be read (at least
  /// line.size() + simdjson::SIMDJSON_PADDING; see runtime/line_reader.h).
  std::optional<std::string> Decode(std::string_view line, size_t readable, Event& event);

 private:
  struct UnitCache;
  /// Gives the fields read from a line their meaning: signal, time, status, value.
  std::optional<std::string> Map(RawEvent& raw, Event& e);
  /// The signal of an event given several codings (`codes`), or why there is none.
  std::optional<std::string> Codings(RawEvent& raw, Event& e, bool& code_is_value) const;
  /// An alert response's signal and value (who responded), or why it cannot be used.
  std::optional<std::string> Response(const RawEvent& raw, Event& e);
  /// The dead-letter reason of a value outside its signal's plausible range.
  std::string Implausible(const ir::Signal& signal, std::string_view number, std::optional<std::string_view> unit,
                          const Event& e) const;
  std::optional<std::string> Value(const ir::Signal& signal, std::string_view raw_number, bool is_number,
                                   std::optional<bool> boolean, std::optional<std::string_view> text,
                                   std::optional<std::string_view> unit, Event& e);

  const ir::Module& module_;
  Interner& interner_;
  absl::flat_hash_map<std::string, int32_t> by_name_;
  // code -> (signal, the code is the value), per system; looked up without copying. The
  // systems cdr names (loinc, snomed, rxnorm) by their index, found with a comparison or
  // two of the event's system; any other by its text.
  using Codes = absl::flat_hash_map<std::string, std::pair<int32_t, bool>>;
  static int KnownSystem(std::string_view system);  // 0, 1, 2, or -1 for another
  Codes& CodesOf(std::string_view system);
  const Codes* FindCodes(std::string_view system) const;
  // The codes of the signals `from KIND` (an order's), by kind and system; an empty kind
  // is the codes above.
  Codes& CodesOf(std::string_view kind, std::string_view system);
  const Codes* FindCodes(std::string_view kind, std::string_view system) const;
  absl::flat_hash_map<std::string, Codes> kinded_codes_;
  Codes known_systems_[3];
  absl::flat_hash_map<std::string, Codes> other_systems_;
  std::unique_ptr<UnitCache> units_;
  struct Parser;
  std::unique_ptr<Parser> parser_;
  std::string buffer_;
  std::string last_time_text_;  // the last `time` parsed, and its value
  int64_t last_time_ = 0;
};

/// The dead-letter reason of a line over kMaxEventBytes.
std::string OversizeReason(uint64_t size);

/// A JSON number's text as an exact decimal (exponents allowed), rounded half away from
/// zero to 8 places; nothing when out of range.
std::optional<int64_t> DecimalFromJson(std::string_view text);

}  // namespace cdr::runtime
