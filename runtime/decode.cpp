// runtime/decode.cpp: the NDJSON event decoder (simdjson on-demand).
#include "runtime/decode.h"

#include <cstring>

#include <simdjson.h>

#include "runtime/line_reader.h"
#include "stdlib/decimal.h"
#include "stdlib/responses.h"
#include "stdlib/time.h"
#include "stdlib/units.h"

namespace cdr::runtime {

static_assert(kLinePadding >= simdjson::SIMDJSON_PADDING, "lines must be padded for simdjson");

using stdlib::Decimal;
using stdlib::Int128;

struct EventDecoder::Parser {
  simdjson::ondemand::parser parser;
};

// Per (signal, unit text): how to bring a value to the signal's unit, or why not.
struct EventDecoder::UnitCache {
  struct Entry {
    bool ok = false;
    stdlib::Linear linear;
    std::string why;
  };
  std::map<std::pair<int32_t, std::string>, Entry> entries;
};

// An event line's fields as read from the JSON, before they are given meaning (Map).
// The texts point into the parser's buffers: valid until the next parse.
struct RawEvent {
  std::string_view id, patient, time, recorded, status;
  bool have_id = false, have_patient = false, have_time = false, have_recorded = false;
  std::optional<std::string_view> signal_name, system, code, unit, text_value;
  // `codes`: the codings of one concept (translations), any of which the schemas may map.
  std::vector<std::pair<std::string_view, std::string_view>> codings;  // never empty when given
  // `kind`: the kind of record (`order`): its codes map to the signals `from` that kind.
  std::string_view kind;
  std::optional<bool> bool_value;
  std::string_view number_text;
  bool is_number = false;
  // An alert response (`response`: action, rule, alert, by, reason).
  bool have_response = false;
  std::optional<std::string_view> action, rule, alert, by, reason;
};

namespace {

// How Walk reads keys: raw (the common case: compared as written, no copy), or each
// unescaped (for the rare line with a key that holds an escape).
enum class Keys { Raw, Unescaped };
// Kept out of line: inlined into Decode, its constant-length key compares became calls.
template <Keys kKeys>
[[gnu::noinline]] std::optional<std::string> Walk(simdjson::ondemand::object& obj, RawEvent& r, bool* escaped_key);

// A lookup key for Abseil's maps of strings (without copying the text).
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// std::isspace in the C locale, inline (the library's is a call per byte).
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Whether the raw key at `raw` is `quoted` (the name and its closing quote).
template <size_t N>
bool KeyIs(const char* raw, const char (&quoted)[N]) {
  return std::memcmp(raw, quoted, N - 1) == 0;
}

// Whether the raw JSON string at `raw` (its text up to the closing quote) holds an escape.
bool HasEscape(const char* raw) {
  for (; *raw != '"'; ++raw) {
    if (*raw == '\\') return true;
  }
  return false;
}

// Whether `s` is the literal `text`, compared at a constant length.
template <size_t N>
bool Is(std::string_view s, const char (&text)[N]) {
  return s.size() == N - 1 && std::memcmp(s.data(), text, N - 1) == 0;
}

std::string Quote(std::string_view s) {
  std::string out(s.substr(0, 80));
  if (s.size() > 80) out += "...";
  return "`" + out + "`";
}

}  // namespace

std::optional<int64_t> DecimalFromJson(std::string_view s) {
  {
    // Fast path, exact in 64 bits: up to 10 integer digits, up to 8 decimals, no exponent.
    size_t i = 0, n = s.size();
    bool neg = i < n && s[i] == '-';
    if (neg) ++i;
    int64_t m = 0;
    size_t int_start = i;
    while (i < n && i - int_start < 11 && s[i] >= '0' && s[i] <= '9') m = m * 10 + (s[i++] - '0');
    size_t int_digits = i - int_start;
    int frac = 0;
    bool ok = int_digits > 0 && int_digits <= 10;
    if (ok && i < n && s[i] == '.') {
      ++i;
      while (i < n && frac < Decimal::kScale && s[i] >= '0' && s[i] <= '9') {
        m = m * 10 + (s[i++] - '0');
        ++frac;
      }
      ok = frac > 0;
    }
    if (ok && i == n) {
      for (int k = frac; k < Decimal::kScale; ++k) m *= 10;
      return neg ? -m : m;
    }
  }
  // General path: many digits, rounding beyond 8 decimals, exponents.
  // -?int(.frac)?([eE][+-]?exp)?  -> digits and a power of ten, then scaled exactly.
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  Int128 mant = 0;
  int scale = 0;  // value = mant * 10^-scale
  int digits = 0;
  bool any = false;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    any = true;
    if (digits < 30) {
      mant = mant * 10 + (s[i] - '0');
      if (mant) ++digits;
    } else {
      --scale;  // drop low-order digits of a huge integer part
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      any = true;
      if (digits < 30) {
        mant = mant * 10 + (s[i] - '0');
        if (mant) ++digits;
        ++scale;
      }
    }
  }
  if (!any) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    int e = 0;
    bool edig = false;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      edig = true;
      if (e < 1000) e = e * 10 + (s[i] - '0');
    }
    if (!edig) return std::nullopt;
    scale += eneg ? e : -e;
  }
  if (i != s.size()) return std::nullopt;
  // raw = mant * 10^(8 - scale)
  int shift = Decimal::kScale - scale;
  if (mant == 0) return 0;
  if (shift >= 0) {
    for (int k = 0; k < shift; ++k) {
      mant *= 10;
      if (mant > INT64_MAX) return std::nullopt;
    }
  } else {
    Int128 div = 1;
    for (int k = 0; k < -shift; ++k) {
      div *= 10;
      if (div > (static_cast<Int128>(1) << 100)) return 0;  // smaller than 10^-8: rounds to zero
    }
    Int128 q = mant / div, r = mant % div;
    if (2 * r >= div) ++q;
    mant = q;
  }
  if (mant > INT64_MAX) return std::nullopt;
  return neg ? -static_cast<int64_t>(mant) : static_cast<int64_t>(mant);
}

int EventDecoder::KnownSystem(std::string_view system) {
  if (Is(system, "http://loinc.org") || Is(system, "loinc")) return 0;
  if (Is(system, "http://snomed.info/sct") || Is(system, "snomed")) return 1;
  if (Is(system, "http://www.nlm.nih.gov/research/umls/rxnorm") || Is(system, "rxnorm")) return 2;
  return -1;
}

EventDecoder::Codes& EventDecoder::CodesOf(std::string_view system) {
  int known = KnownSystem(system);
  return known >= 0 ? known_systems_[known] : other_systems_[std::string(system)];
}

// The key of a system among the codes of a kind of record: the systems cdr names by their
// index, any other by its text.
static std::string KindKey(std::string_view kind, std::string_view system, int known) {
  return std::string(kind) + '\n' + (known >= 0 ? "#" + std::to_string(known) : std::string(system));
}

EventDecoder::Codes& EventDecoder::CodesOf(std::string_view kind, std::string_view system) {
  if (kind.empty()) return CodesOf(system);
  return kinded_codes_[KindKey(kind, system, KnownSystem(system))];
}

const EventDecoder::Codes* EventDecoder::FindCodes(std::string_view kind, std::string_view system) const {
  if (kind.empty()) return FindCodes(system);
  auto it = kinded_codes_.find(KindKey(kind, system, KnownSystem(system)));
  return it == kinded_codes_.end() ? nullptr : &it->second;
}

// How an unknown code's reason names the kind of record it came in.
static std::string OfKind(std::string_view kind) {
  return kind.empty() ? "" : " in a record of kind `" + std::string(kind.substr(0, 40)) + "` (mapped by signals `from` it)";
}

const EventDecoder::Codes* EventDecoder::FindCodes(std::string_view system) const {
  int known = KnownSystem(system);
  if (known >= 0) return &known_systems_[known];
  auto it = other_systems_.find(Key(system));
  return it == other_systems_.end() ? nullptr : &it->second;
}

EventDecoder::EventDecoder(const ir::Module& module, Interner& interner)
    : module_(module), interner_(interner), units_(std::make_unique<UnitCache>()), parser_(std::make_unique<Parser>()) {
  // Value sets by name, to map their codes onto the `code in valueset` signals.
  std::map<std::string, std::vector<ir::Code>> valuesets;
  for (size_t i = 0; i < module.signals.size(); ++i) {
    const ir::Signal& s = module.signals[i];
    by_name_.emplace(s.name, static_cast<int32_t>(i));
    for (const auto& c : s.codes) CodesOf(s.kind, c.system).emplace(c.code, std::make_pair(static_cast<int32_t>(i), false));
    for (const auto& c : s.valueset_codes) {
      CodesOf(s.kind, c.system).emplace(c.code, std::make_pair(static_cast<int32_t>(i), true));
    }
  }
  buffer_.reserve(4096);
}

EventDecoder::~EventDecoder() = default;

std::optional<std::string> EventDecoder::Value(const ir::Signal& signal, std::string_view raw_number, bool is_number,
                                               std::optional<bool> boolean, std::optional<std::string_view> text,
                                               std::optional<std::string_view> unit, Event& e) {
  using ST = ir::SignalType;
  e.has_value = is_number || boolean || text;
  if (!e.has_value) {
    if (signal.type == ST::Event) return std::nullopt;
    return "`" + signal.name + "` needs a value";
  }
  switch (signal.type) {
    case ST::Event:
      e.has_value = false;  // an occurrence: a value, if any, is not used
      return std::nullopt;
    case ST::Boolean:
      if (!boolean) return "value of `" + signal.name + "` must be true or false";
      e.value = *boolean ? 1 : 0;
      return std::nullopt;
    case ST::Integer: {
      if (!is_number) return "value of `" + signal.name + "` must be a number";
      auto d = DecimalFromJson(raw_number);
      if (!d || *d % Decimal::kOne != 0) return "value of `" + signal.name + "` must be an integer, got " + Quote(raw_number);
      e.value = *d / Decimal::kOne;
      // The language's integers are 32-bit: arithmetic on them is exact in 64 bits.
      if (e.value < stdlib::kMinInteger || e.value > stdlib::kMaxInteger) {
        return "value " + Quote(raw_number) + " of `" + signal.name + "` is out of range for an integer";
      }
      return std::nullopt;
    }
    case ST::Decimal: {
      if (!is_number) return "value of `" + signal.name + "` must be a number";
      auto d = DecimalFromJson(raw_number);
      if (!d) return "value " + Quote(raw_number) + " of `" + signal.name + "` is out of range";
      e.value = *d;
      return std::nullopt;
    }
    case ST::Quantity: {
      if (!is_number) return "value of `" + signal.name + "` must be a number";
      auto d = DecimalFromJson(raw_number);
      if (!d) return "value " + Quote(raw_number) + " of `" + signal.name + "` is out of range";
      if (!unit) return "`" + signal.name + "` is a quantity in `" + signal.unit + "`; the event has no `unit`";
      if (*unit == signal.unit) {
        e.value = *d;
        return std::nullopt;
      }
      auto& entry = units_->entries[{e.signal, std::string(*unit)}];
      if (!entry.ok && entry.why.empty()) {
        std::string why;
        auto from = stdlib::ParseUnit(*unit, &why);
        auto to = stdlib::ParseUnit(signal.unit);
        if (!from) {
          std::string suggestion = stdlib::SuggestUnit(*unit);
          entry.why = "unit " + Quote(*unit) + " of `" + signal.name + "` is not a UCUM unit cdr knows" +
                      (suggestion.empty() ? "" : " (did you mean `" + suggestion + "`?)");
        } else if (auto l = stdlib::LinearConversion(*from, *to)) {
          entry.ok = true;
          entry.linear = *l;
        } else {
          for (const auto& c : signal.conversions) {
            auto cu = stdlib::ParseUnit(c.unit);
            if (cu && cu->SameScale(*from)) {
              entry.ok = true;
              entry.linear.num = c.to_canonical.num;
              entry.linear.den = c.to_canonical.den;
            }
          }
          if (!entry.ok) {
            entry.why = "unit " + Quote(*unit) + " of `" + signal.name + "` cannot be converted to `" + signal.unit + "`";
          }
        }
      }
      if (!entry.ok) return entry.why;
      auto shifted = stdlib::Add(Decimal::FromRaw(*d), entry.linear.from_offset);
      auto scaled = shifted ? shifted->Scale(entry.linear.num, entry.linear.den) : std::nullopt;
      auto v = scaled ? stdlib::Sub(*scaled, entry.linear.to_offset) : std::nullopt;
      if (!v) return "value " + Quote(raw_number) + " of `" + signal.name + "` is out of range after conversion";
      e.value = v->raw();
      return std::nullopt;
    }
    case ST::Enum: {
      if (!text) return "value of `" + signal.name + "` must be a string";
      if (std::find(signal.members.begin(), signal.members.end(), *text) == signal.members.end()) {
        return Quote(*text) + " is not a value of `" + signal.name + "`";
      }
      e.value = interner_.Intern(std::string(*text));
      return std::nullopt;
    }
    case ST::Text:
    case ST::Code:
      if (!text) return "value of `" + signal.name + "` must be a string";
      e.value = interner_.Intern(std::string(*text));
      return std::nullopt;
  }
  return std::nullopt;
}

std::string OversizeReason(uint64_t size) {
  return "line of " + std::to_string(size) + " bytes is over the limit of " + std::to_string(kMaxEventBytes);
}

std::optional<std::string> EventDecoder::Decode(std::string_view line, Event& e) {
  if (line.size() > kMaxEventBytes) return OversizeReason(line.size());
  buffer_.assign(line);
  buffer_.append(simdjson::SIMDJSON_PADDING, ' ');
  return Decode(std::string_view(buffer_.data(), line.size()), buffer_.size(), e);
}

std::optional<std::string> EventDecoder::Decode(std::string_view line, size_t readable, Event& e) {
  if (line.size() > kMaxEventBytes) return OversizeReason(line.size());
  if (readable < line.size() + simdjson::SIMDJSON_PADDING) return Decode(line, e);  // not padded: copy
  std::string_view trimmed = line;
  while (!trimmed.empty() && IsSpace(trimmed.back())) trimmed.remove_suffix(1);
  if (trimmed.empty()) return "empty line";
  size_t first = 0;  // leading blanks, inline (find_first_not_of is a call per line)
  while (trimmed[first] == ' ' || trimmed[first] == '\t') ++first;  // ends: the back is not a space
  if (trimmed[first] != '{') return "not a JSON object (an event is one object per line)";
  bool ends_object = trimmed.back() == '}';
  simdjson::padded_string_view view(line.data(), line.size(), readable);
  simdjson::ondemand::document doc;
  if (auto err = parser_->parser.iterate(view).get(doc)) return std::string("not JSON: ") + simdjson::error_message(err);
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj)) {
    if (!ends_object) return "not JSON: the object is not closed, or text follows it";
    return std::string("not JSON: ") + simdjson::error_message(err);
  }
  if (!ends_object) return "not JSON: text after the object";
  RawEvent raw;
  bool escaped_key = false;
  if (auto err = Walk<Keys::Raw>(obj, raw, &escaped_key)) return err;
  if (escaped_key) {
    // A key not known as written holds an escape: the line is read again, every key
    // unescaped (a second parse for a rare line keeps the common walk lean).
    raw = RawEvent{};
    if (auto err = parser_->parser.iterate(view).get(doc)) return std::string("not JSON: ") + simdjson::error_message(err);
    if (auto err = doc.get_object().get(obj)) return std::string("not JSON: ") + simdjson::error_message(err);
    if (auto err = Walk<Keys::Unescaped>(obj, raw, nullptr)) return err;
  }
  // The walk has read the object to its closing brace: nothing may follow it (a line
  // ending in `}` may still hold a second value, or a stray bracket, after the object).
  const char* next = nullptr;
  if (doc.current_location().get(next) != simdjson::OUT_OF_BOUNDS) return "not JSON: text after the object";
  return Map(raw, e);
}

namespace {

// The fields Walk reads, by number.
enum Field { kId, kPatient, kTime, kRecorded, kSignal, kCode, kValue, kUnit, kStatus, kResponse, kCodes, kKind, kUnknown };
constexpr std::string_view kNames[] = {"id",    "patient", "time",   "recorded", "signal", "code",
                                       "value", "unit",    "status", "response", "codes",  "kind"};

[[gnu::noinline, gnu::cold]] std::string Malformed(int field) { return "not JSON: malformed value of " + Quote(kNames[field]); }

// Why a field that must be a string could not be read as one.
[[gnu::noinline, gnu::cold]] std::string StringError(simdjson::ondemand::value& v, int field, simdjson::error_code err) {
  std::string_view key = kNames[field];
  if (err != simdjson::INCORRECT_TYPE) return "not JSON: malformed string in " + Quote(key);
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return Malformed(field);
  return "`" + std::string(key) + "` must be a string";
}

// Reads an event object's fields (the JSON side: types, strings); Map gives them meaning.
// A key given twice: JSON parsers differ on which one counts, so the event is refused.
[[gnu::noinline, gnu::cold]] std::string Duplicate(std::string_view key) {
  return "duplicate key " + Quote(key) + " (which of its values is meant cannot be known)";
}

constexpr int kEscapedKey = -1;  // an unknown key holding an escape: the unescaping walk reads the line
constexpr int kBadKey = -2;      // not JSON

// The field an event key names (kUnknown: one the decoder does not read). Keys are compared
// raw, once each, into a field number; a key not known so that holds an escape (rare; here
// or inside `code`) sends the line to the walk that unescapes every key.
template <Keys kKeys, typename Field>
[[gnu::always_inline]] inline int FieldOf(Field& field) {
  int which = kUnknown;
  if constexpr (kKeys == Keys::Unescaped) {
    std::string_view unescaped;
    if (field.unescaped_key().get(unescaped)) return kBadKey;
    for (int f = 0; f < kUnknown; ++f) {
      if (unescaped == kNames[f]) which = f;
    }
    return which;
  } else {
    simdjson::ondemand::raw_json_string raw_key;
    if (field.key().get(raw_key)) return kBadKey;
    // One candidate by its first letter, then compared whole with its closing quote. The
    // key is in the padded input, so reading a few bytes past a shorter one is safe; a
    // comparison of constant length is a load or two, not a call.
    const char* k = raw_key.raw();
    switch (k[0]) {
      case 'i': which = KeyIs(k, "id\"") ? kId : kUnknown; break;
      case 'p': which = KeyIs(k, "patient\"") ? kPatient : kUnknown; break;
      case 't': which = KeyIs(k, "time\"") ? kTime : kUnknown; break;
      case 'r': which = KeyIs(k, "recorded\"") ? kRecorded : KeyIs(k, "response\"") ? kResponse : kUnknown; break;
      case 's': which = KeyIs(k, "signal\"") ? kSignal : KeyIs(k, "status\"") ? kStatus : kUnknown; break;
      case 'c': which = KeyIs(k, "code\"") ? kCode : KeyIs(k, "codes\"") ? kCodes : kUnknown; break;
      case 'v': which = KeyIs(k, "value\"") ? kValue : kUnknown; break;
      case 'k': which = KeyIs(k, "kind\"") ? kKind : kUnknown; break;
      case 'u': which = KeyIs(k, "unit\"") ? kUnit : kUnknown; break;
      default: break;
    }
    return which == kUnknown && HasEscape(k) ? kEscapedKey : which;
  }
}

// `code`: an object with string `system` and `code` (other keys ignored, none twice).
template <Keys kKeys>
std::optional<std::string> ReadCode(simdjson::ondemand::value& v, RawEvent& r, bool* escaped_key) {
  simdjson::ondemand::object c;
  if (v.get_object().get(c)) {
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) return Malformed(kCode);
    return "`code` must be an object with `system` and `code`";
  }
  uint32_t code_seen = 0;
  for (auto cf : c) {
    // Keys read as the event's are: raw, or (an unknown one holding an escape) on the
    // second walk, unescaped.
    enum { kOther, kSystem, kCodeValue } part = kOther;
    if constexpr (kKeys == Keys::Unescaped) {
      std::string_view unescaped;
      if (cf.unescaped_key().get(unescaped)) return "not JSON: malformed key in `code`";
      part = Is(unescaped, "system") ? kSystem : Is(unescaped, "code") ? kCodeValue : kOther;
    } else {
      simdjson::ondemand::raw_json_string raw_ck;
      if (cf.key().get(raw_ck)) return "not JSON: malformed key in `code`";
      const char* ck = raw_ck.raw();
      part = KeyIs(ck, "system\"") ? kSystem : KeyIs(ck, "code\"") ? kCodeValue : kOther;
      if (part == kOther && HasEscape(ck)) {
        *escaped_key = true;
        return std::nullopt;
      }
    }
    simdjson::ondemand::value cval;
    if (cf.value().get(cval)) return "not JSON: malformed `code`";
    if (part == kOther) continue;
    if (code_seen & (1u << part)) return Duplicate(part == kSystem ? "code.system" : "code.code");
    code_seen |= 1u << part;
    std::string_view cv;
    if (cval.get_string().get(cv)) return part == kSystem ? "`code.system` must be a string" : "`code.code` must be a string";
    (part == kSystem ? r.system : r.code) = cv;
  }
  if (!r.system || !r.code) return "`code` must have `system` and `code`";
  return std::nullopt;
}

// `response`: an object of strings `action`, `rule`, `alert`, `by`, `reason` (other keys
// ignored, none twice). Read rarely: its keys are compared unescaped.
[[gnu::noinline, gnu::cold]] std::optional<std::string> ReadResponse(simdjson::ondemand::value& v, RawEvent& r) {
  simdjson::ondemand::object o;
  if (v.get_object().get(o)) {
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) return Malformed(kResponse);
    return "`response` must be an object with `action`, `rule`, `alert` and `by`";
  }
  r.have_response = true;
  constexpr std::string_view kParts[] = {"action", "rule", "alert", "by", "reason"};
  std::optional<std::string_view>* slots[] = {&r.action, &r.rule, &r.alert, &r.by, &r.reason};
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key)) return "not JSON: malformed key in `response`";
    simdjson::ondemand::value fv;
    if (f.value().get(fv)) return "not JSON: malformed `response`";
    for (size_t i = 0; i < std::size(kParts); ++i) {
      if (key != kParts[i]) continue;
      if (*slots[i]) return Duplicate("response." + std::string(kParts[i]));
      std::string_view text;
      if (fv.get_string().get(text)) return "`response." + std::string(kParts[i]) + "` must be a string";
      *slots[i] = text;
    }
  }
  return std::nullopt;
}

// `codes`: an array of objects with string `system` and `code` (other keys ignored, none
// twice). Read rarely (translated formats): its keys are compared unescaped.
[[gnu::noinline, gnu::cold]] std::optional<std::string> ReadCodes(simdjson::ondemand::value& v, RawEvent& r) {
  simdjson::ondemand::array a;
  if (v.get_array().get(a)) {
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) return Malformed(kCodes);
    return "`codes` must be an array of objects with `system` and `code`";
  }
  for (auto item : a) {
    simdjson::ondemand::object c;
    if (item.get_object().get(c)) return "`codes` must be an array of objects with `system` and `code`";
    std::optional<std::string_view> parts[2];
    for (auto f : c) {
      std::string_view key;
      if (f.unescaped_key().get(key)) return "not JSON: malformed key in `codes`";
      simdjson::ondemand::value fv;
      if (f.value().get(fv)) return "not JSON: malformed `codes`";
      const int part = key == "system" ? 0 : key == "code" ? 1 : -1;
      if (part < 0) continue;
      if (parts[part]) return Duplicate(part == 0 ? "codes[].system" : "codes[].code");
      std::string_view text;
      if (fv.get_string().get(text)) return part == 0 ? "`codes[].system` must be a string" : "`codes[].code` must be a string";
      parts[part] = text;
    }
    if (!parts[0] || !parts[1]) return "each of `codes` must have `system` and `code`";
    r.codings.emplace_back(*parts[0], *parts[1]);
  }
  if (r.codings.empty()) return "`codes` is empty";
  return std::nullopt;
}

// `value`: a number (kept as written, for exact decimals), a boolean, a string or null.
[[gnu::always_inline]] inline std::optional<std::string> ReadValue(simdjson::ondemand::value& v, RawEvent& r) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return Malformed(kValue);
  switch (type) {
    case simdjson::ondemand::json_type::number:
      r.number_text = v.raw_json_token();
      while (!r.number_text.empty() && IsSpace(r.number_text.back())) r.number_text.remove_suffix(1);
      r.is_number = true;
      return std::nullopt;
    case simdjson::ondemand::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b)) return "not JSON: malformed boolean";
      r.bool_value = b;
      return std::nullopt;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s)) return "not JSON: malformed string in `value`";
      r.text_value = s;
      return std::nullopt;
    }
    case simdjson::ondemand::json_type::null: return std::nullopt;
    default: return "`value` must be a number, boolean, string or absent";
  }
}

// Reads an event object's fields (the JSON side: types, strings); Map gives them meaning.
template <Keys kKeys>
std::optional<std::string> Walk(simdjson::ondemand::object& obj, RawEvent& r, bool* escaped_key) {
  uint32_t seen = 0;  // the fields read so far, one bit each
  for (auto field : obj) {
    int which = FieldOf<kKeys>(field);
    if (which == kBadKey) return "not JSON: malformed key";
    if (which == kEscapedKey) {
      *escaped_key = true;
      return std::nullopt;
    }
    if (which == kUnknown) continue;  // unknown fields are ignored (the parser skips the value)
    if (seen & (1u << which)) return Duplicate(kNames[which]);
    seen |= 1u << which;
    simdjson::ondemand::value v;
    if (field.value().get(v)) return Malformed(which);
    // A field of one type is read as that type at once; its type is asked only for `value`
    // (of several types) and to explain a refusal (a value of another type leaves the
    // iterator where it was, so the type can still be read then). The reasons are built
    // out of line: the common path carries no closure and no key text.
    std::string_view* text = nullptr;
    switch (which) {
      case kId: r.have_id = true; text = &r.id; break;
      case kPatient: r.have_patient = true; text = &r.patient; break;
      case kTime: r.have_time = true; text = &r.time; break;
      case kRecorded: r.have_recorded = true; text = &r.recorded; break;
      case kSignal: text = &r.signal_name.emplace(); break;
      case kUnit: text = &r.unit.emplace(); break;
      case kStatus: text = &r.status; break;
      case kKind: text = &r.kind; break;
      default: break;
    }
    if (text) {
      if (auto err = v.get_string().get(*text)) return StringError(v, which, err);
    } else if (which == kCode) {
      if (auto err = ReadCode<kKeys>(v, r, escaped_key); err || (escaped_key && *escaped_key)) return err;
    } else if (which == kResponse) {
      if (auto err = ReadResponse(v, r)) return err;
    } else if (which == kCodes) {
      if (auto err = ReadCodes(v, r)) return err;
    } else if (auto err = ReadValue(v, r)) {  // kValue
      return err;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> EventDecoder::Map(RawEvent& r, Event& e) {
  // Reset field by field: the strings keep their capacity (no allocation per event).
  e.id = {};
  e.patient = {};
  e.signal = -1;
  e.time = e.recorded = 0;
  e.has_value = false;
  e.value = 0;
  e.status = Status::Final;
  e.implausible = false;
  if (!r.have_id || r.id.empty()) return "missing `id`";
  if (!r.have_patient || r.patient.empty()) return "missing `patient`";
  if (!r.have_time) return "missing `time`";
  e.id = r.id;  // views into the parser's buffers, valid until the next line
  e.patient = r.patient;
  // The events of a panel share their time: the last one parsed is kept (a time parsed
  // is never empty, so an empty kept text means none yet).
  if (r.time.empty() || !SameText(r.time, last_time_text_)) {
    auto t = stdlib::ParseTime(r.time);
    if (!t) return "`time` " + Quote(r.time) + " is not an RFC 3339 date-time";
    last_time_text_ = r.time;
    last_time_ = *t;
  }
  e.time = last_time_;
  if (r.have_recorded) {
    auto t = stdlib::ParseTime(r.recorded);
    if (!t) return "`recorded` " + Quote(r.recorded) + " is not an RFC 3339 date-time";
    e.recorded = *t;
  }
  if (r.recorded.empty()) e.recorded = e.time;
  if (r.status.empty() || SameText(r.status, "final")) {
    e.status = Status::Final;
  } else if (SameText(r.status, "amended") || SameText(r.status, "corrected")) {
    e.status = Status::Amended;
  } else if (SameText(r.status, "entered-in-error")) {
    e.status = Status::EnteredInError;
  } else {
    return "`status` " + Quote(r.status) + " is not final, amended or entered-in-error";
  }
  bool code_is_value = false;
  if (r.have_response) {
    return Response(r, e);
  } else if (r.signal_name) {
    auto it = by_name_.find(Key(*r.signal_name));
    if (it == by_name_.end()) return "unknown signal " + Quote(*r.signal_name);
    e.signal = it->second;
  } else if (r.code && r.codings.empty()) {
    const Codes* codes = FindCodes(r.kind, *r.system);
    auto it = codes ? codes->find(Key(*r.code)) : Codes::const_iterator{};
    if (!codes || it == codes->end()) return "unknown code " + Quote(*r.system) + " " + Quote(*r.code) + OfKind(r.kind);
    e.signal = it->second.first;
    code_is_value = it->second.second;
  } else if (!r.codings.empty()) {
    if (r.code) return "an event has `code` or `codes`, not both";
    if (auto refused = Codings(r, e, code_is_value)) return refused;
  } else {
    return "missing `signal` or `code`";
  }
  const ir::Signal& signal = module_.signals[static_cast<size_t>(e.signal)];
  if (signal.derived()) {
    return "signal " + Quote(signal.name) + " is computed by rule " + Quote(module_.rules[static_cast<size_t>(signal.rule)].id) +
           "; events cannot set it";
  }
  if (signal.response) {
    return "signal " + Quote(signal.name) + " is set by alert responses (`response` with `action`, `rule`, `alert`, `by`), not by `signal`";
  }
  if (e.status == Status::EnteredInError) return std::nullopt;  // removes by id; no value needed
  if (code_is_value && !r.text_value) r.text_value = r.code;
  if (auto refused = Value(signal, r.number_text, r.is_number, r.bool_value, r.text_value, r.unit, e)) return refused;
  if (signal.has_plausible && e.has_value && (e.value < signal.plausible_low || e.value > signal.plausible_high)) {
    if (signal.keep_implausible) {
      e.implausible = true;
    } else {
      return Implausible(signal, r.number_text, r.unit, e);
    }
  }
  return std::nullopt;
}

// `codes`: the codings of one concept. The one the schemas map gives the signal; codings
// mapped to two different signals are refused (which is meant cannot be known).
std::optional<std::string> EventDecoder::Codings(RawEvent& r, Event& e, bool& code_is_value) const {
  std::optional<size_t> mapped;
  for (size_t i = 0; i < r.codings.size(); ++i) {
    const auto& [system, code] = r.codings[i];
    const Codes* codes = FindCodes(r.kind, system);
    auto it = codes ? codes->find(Key(code)) : Codes::const_iterator{};
    if (!codes || it == codes->end()) continue;
    if (mapped && it->second.first != e.signal) {
      const auto& [system0, code0] = r.codings[*mapped];
      return "the codes map to different signals: " + Quote(system0) + " " + Quote(code0) + " to " +
             Quote(module_.signals[static_cast<size_t>(e.signal)].name) + ", " + Quote(system) + " " + Quote(code) +
             " to " + Quote(module_.signals[static_cast<size_t>(it->second.first)].name) + " (which is meant cannot be known)";
    }
    if (!mapped) {
      mapped = i;
      e.signal = it->second.first;
      code_is_value = it->second.second;
    }
  }
  if (!mapped) {
    std::string all;
    for (const auto& [system, code] : r.codings) all += (all.empty() ? "" : ", ") + Quote(system) + " " + Quote(code);
    return "unknown codes " + all + OfKind(r.kind);
  }
  r.code = r.codings[*mapped].second;  // the code that is the value, for `code in valueset` signals
  return std::nullopt;
}

// An alert response (docs/events.md, "Alert responses"): an event of the signal
// `RULE.acknowledged` (or overridden, escalated) whose value is who responded.
std::optional<std::string> EventDecoder::Response(const RawEvent& r, Event& e) {
  if (r.signal_name || r.code || r.is_number || r.bool_value || r.text_value) {
    return "an alert response has no `signal`, `code` or `value`: its `response` says what it is";
  }
  const stdlib::ResponseKind* kind = r.action ? stdlib::ResponseOfAction(*r.action) : nullptr;
  if (!r.action) return "`response` has no `action` (acknowledge, override or escalate)";
  if (!kind) return "`response.action` " + Quote(*r.action) + " is not acknowledge, override or escalate";
  if (!r.rule || r.rule->empty()) return "`response` has no `rule` (the id of the rule whose alert it answers)";
  std::string name = std::string(*r.rule) + "." + std::string(kind->member);
  auto it = by_name_.find(name);
  if (it == by_name_.end() || !module_.signals[static_cast<size_t>(it->second)].response) {
    return "`response.rule` " + Quote(*r.rule) + " is not a loaded rule";
  }
  e.signal = it->second;
  if (e.status == Status::EnteredInError) return std::nullopt;  // withdraws the response with its id
  if (!r.alert) return "`response` has no `alert` (the id of the alert it answers)";
  if (r.alert->size() != 32 || r.alert->find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return "`response.alert` " + Quote(*r.alert) + " is not an alert id (32 lowercase hex digits)";
  }
  if (!r.by || r.by->empty()) return "`response` has no `by` (who responded)";
  e.has_value = true;
  e.value = interner_.Intern(std::string(*r.by));
  return std::nullopt;
}

std::string EventDecoder::Implausible(const ir::Signal& signal, std::string_view number, std::optional<std::string_view> unit,
                                      const Event& e) const {
  bool integer = signal.type == ir::SignalType::Integer;
  auto show = [&](int64_t raw) {
    return integer ? std::to_string(raw) : Decimal::FromRaw(raw).ToShortString();
  };
  std::string in_unit = signal.unit.empty() || signal.unit == "1" ? "" : " " + signal.unit;
  std::string given;
  if (unit && *unit != signal.unit) given = " (given as " + std::string(number) + " " + std::string(*unit) + ")";
  return "value " + show(e.value) + in_unit + given + " of `" + signal.name + "` is outside its plausible range " +
         show(signal.plausible_low) + " .. " + show(signal.plausible_high) + in_unit + " (schema `" + signal.schema +
         "`; `plausible ... keep` would keep it)";
}

}  // namespace cdr::runtime
