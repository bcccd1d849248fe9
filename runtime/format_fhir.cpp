// runtime/format_fhir.cpp: the FHIR R4 input format. A stream of JSON resources: one per
// line (bulk export NDJSON) or pretty-printed, each ending where its outermost object
// closes. Observations (their components each), MedicationAdministrations and
// MedicationRequests (orders: `"kind": "order"`) become events, in Bundles (any type) too; docs/ingest.md lists the mapping. Codes and units are
// carried as the resource writes them, every coding of a concept given: the schemas map
// them to signals when the events are read.
#include <charconv>
#include <memory>
#include <string>

#include <simdjson.h>

#include "runtime/input_format.h"
#include "stdlib/time.h"

namespace cdr::runtime {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string Cut(std::string_view s, size_t n = 40) { return std::string(s.substr(0, n)) + (s.size() > n ? "..." : ""); }

// A JSON value ends where its outermost object or array closes (strings and their escapes
// followed across lines). Lines outside any value must be blank.
class Splitter final : public RecordSplitter {
 public:
  void Add(const Line& line, uint64_t line_no, uint64_t end, RecordSink& out) override {
    std::string_view text = line.text;
    if (line_no == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark
    const Record self{line.text, line_no, line_no, end, line.size};
    const uint64_t line_start = line_start_;  // the stream offset where this line starts
    line_start_ = end;
    if (line.size > line.text.size()) {  // cut by the reader: longer than its buffer
      if (depth_ == 0) return out.OnStray(self, "a line of " + std::to_string(line.size) + " bytes is over the limit");
      size_ += line.size;
      return;
    }
    // Values one after another, on lines of their own or not (`}{` where files were
    // concatenated without a newline).
    size_t i = 0;
    while (i < text.size()) {
      size_t start = i;
      if (depth_ == 0) {
        start = i = text.find_first_not_of(" \t\r", i);
        if (i == std::string_view::npos) break;  // blank
        if (text[i] != '{' && text[i] != '[') {
          return out.OnStray(Record{text.substr(i), line_no, line_no, end, text.size() - i},
                             "not JSON: a FHIR resource is a JSON object, one per line or pretty-printed");
        }
        line_ = line_no;
        text_.clear();
        size_ = 0;
      } else if (i == 0) {
        text_ += '\n';
        ++size_;
      }
      bool closed = false;
      for (; i < text.size() && !closed; ++i) {
        const char c = text[i];
        if (in_string_) {
          if (escaped_) {
            escaped_ = false;
          } else if (c == '\\') {
            escaped_ = true;
          } else if (c == '"') {
            in_string_ = false;
          }
        } else if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          ++depth_;
        } else if (c == '}' || c == ']') {
          closed = --depth_ <= 0;  // (closed too often: the JSON parser says why)
        }
      }
      const std::string_view part = text.substr(start, i - start);
      if (text_.size() + part.size() <= kMaxRecordBytes) text_.append(part);
      size_ += part.size();
      last_ = line_no;
      // Where a reader continuing after it starts: after this line, or (a value closed
      // before the line's end) at the line's start, the values before it read again.
      end_ = i == text.size() || text.find_first_not_of(" \t\r", i) == std::string_view::npos ? end : line_start;
      if (closed) Close(out);
    }
  }
  void Flush(RecordSink& out) override {
    if (depth_ > 0) Close(out);  // not closed: the JSON parser says so
  }

 private:
  void Close(RecordSink& out) {
    depth_ = 0;
    in_string_ = escaped_ = false;
    out.OnRecord(Record{text_, line_, last_, end_, size_});
  }
  std::string text_;
  uint64_t line_ = 0, last_ = 0, end_ = 0, size_ = 0;
  uint64_t line_start_ = 0;  // the stream offset where the next line starts
  int64_t depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

// A member's string, or empty.
std::string_view Str(const object& o, std::string_view key) {
  std::string_view s;
  if (o.at_key(key).get_string().get(s)) return {};
  return s;
}

// A JSON number as the exact decimal it denotes when written shortest (the DOM keeps no
// text: 37.20 reads as 37.2).
std::optional<std::string> Number(const element& v) {
  char buf[64];
  std::to_chars_result r{};
  int64_t i;
  double d;
  if (!v.get_int64().get(i)) {
    r = std::to_chars(buf, buf + sizeof buf, i);
  } else if (!v.get_double().get(d)) {
    r = std::to_chars(buf, buf + sizeof buf, d);
  } else {
    return std::nullopt;
  }
  return std::string(buf, r.ptr);  // large and small magnitudes with an exponent, as JSON allows
}

class FhirFormat final : public InputFormat {
 public:
  std::string_view name() const override { return "fhir"; }
  size_t max_line_bytes() const override { return kMaxRecordBytes; }
  std::vector<std::string_view> extensions() const override { return {".json", ".ndjson"}; }
  std::unique_ptr<RecordSplitter> Splitter() const override { return std::make_unique<class Splitter>(); }

  void Translate(std::string_view text, Translation& out) const override {
    out.Clear();
    element doc;
    if (auto err = parser_.parse(text.data(), text.size()).get(doc)) {
      return out.Malformed(std::string("not JSON: ") + simdjson::error_message(err));
    }
    object o;
    if (doc.get_object().get(o)) return out.Malformed("not a FHIR resource: a JSON object with `resourceType`");
    Resource(o, "", "", out, 0);
  }

 private:
  void Resource(const object& r, const std::string& where, std::string_view full_url, Translation& out, int depth) const {
    const std::string_view type = Str(r, "resourceType");
    if (type.empty()) {  // the record itself, or one of its entries
      return depth == 0 ? out.Malformed("no `resourceType`: not a FHIR resource")
                        : out.Refuse(where + "no `resourceType`: not a FHIR resource");
    }
    if (type == "Bundle") return Bundle(r, where, out, depth);
    const std::string at = where + std::string(type) + (Str(r, "id").empty() ? "" : "/" + Cut(Str(r, "id"), 64)) + ": ";
    std::optional<std::string> why;
    if (type == "Observation") {
      why = Observation(r, full_url, out);
    } else if (type == "MedicationAdministration") {
      why = MedicationAdministration(r, full_url, out);
    } else if (type == "MedicationRequest") {
      why = MedicationRequest(r, full_url, out);
    } else {
      ++out.skipped;  // Patient, Encounter, ...: nothing a rule reads
      return;
    }
    if (why) out.Refuse(at + *why);
  }

  void Bundle(const object& b, const std::string& where, Translation& out, int depth) const {
    if (depth > 2) return out.Refuse(where + "Bundles nested more than twice");
    simdjson::dom::array entries;
    if (auto err = b.at_key("entry").get_array().get(entries)) {
      if (err == simdjson::NO_SUCH_FIELD) return;  // an empty Bundle (a search that found nothing)
      return out.Refuse(where + "Bundle.entry is not an array");
    }
    size_t i = 0;
    for (element entry : entries) {
      const std::string at = where + "entry[" + std::to_string(i++) + "] ";
      object e, resource;
      if (entry.get_object().get(e)) {
        out.Refuse(at + "is not an object");
        continue;
      }
      if (e.at_key("resource").get_object().get(resource)) {
        ++out.skipped;  // a transaction's DELETE, or a subscription notification's entry without content
        continue;
      }
      Resource(resource, at, Str(e, "fullUrl"), out, depth + 1);
    }
  }

  // Who a resource is about: a Patient reference (`Patient/123`, an absolute URL ending so,
  // or `urn:uuid:...` as Bundles write them) or a logical reference by identifier.
  static std::optional<std::string> Patient(const object& r, std::string& patient) {
    object subject;
    if (r.at_key("subject").get_object().get(subject)) return "no `subject` (whose it is is not said)";
    std::string_view ref = Str(subject, "reference");
    if (!ref.empty()) {
      if (ref.substr(0, 9) == "urn:uuid:") {
        patient = std::string(ref.substr(9));
      } else if (size_t at = ref.rfind("Patient/"); at != std::string_view::npos && (at == 0 || ref[at - 1] == '/')) {
        std::string_view id = ref.substr(at + 8);
        id = id.substr(0, id.find('/'));  // Patient/1/_history/2
        patient = std::string(id);
      } else {
        return "`subject.reference` `" + Cut(ref) + "` is not a Patient";
      }
    } else {
      object identifier;
      if (!subject.at_key("identifier").get_object().get(identifier)) patient = std::string(Str(identifier, "value"));
    }
    if (patient.empty()) return "`subject` names no patient (a reference or an identifier)";
    return std::nullopt;
  }

  // The resource's id (stable across its versions), else its first identifier, else the
  // Bundle entry's fullUrl.
  static std::optional<std::string> Id(const object& r, std::string_view full_url, std::string& id) {
    id = std::string(Str(r, "id"));
    if (id.empty()) {
      simdjson::dom::array ids;
      object first;
      if (!r.at_key("identifier").get_array().get(ids) && ids.size() > 0 && !ids.at(0).get_object().get(first)) {
        std::string_view system = Str(first, "system"), value = Str(first, "value");
        if (!value.empty()) id = system.empty() ? std::string(value) : std::string(system) + "|" + std::string(value);
      }
    }
    if (id.empty()) id = std::string(full_url);
    if (id.empty()) return "no `id`, `identifier` or fullUrl: its versions could not be told apart";
    return std::nullopt;
  }

  // A FHIR dateTime or instant to ms. A date alone is midnight UTC; a year or a month
  // alone is not a time.
  static std::optional<std::string> Time(std::string_view text, std::string_view field, int64_t& time) {
    std::optional<int64_t> t = text.size() >= 10 ? stdlib::ParseTime(text) : std::nullopt;
    if (!t) return "`" + std::string(field) + "` `" + Cut(text) + "` is not a date-time with its zone";
    time = *t;
    return std::nullopt;
  }

  // effective[x]: a dateTime or instant, or a Period's end (its start while it runs).
  static std::optional<std::string> Effective(const object& r, int64_t& time) {
    for (std::string_view key : {"effectiveDateTime", "effectiveInstant"}) {
      if (std::string_view t = Str(r, key); !t.empty()) return Time(t, key, time);
    }
    object period;
    if (!r.at_key("effectivePeriod").get_object().get(period)) {
      if (std::string_view end = Str(period, "end"); !end.empty()) return Time(end, "effectivePeriod.end", time);
      if (std::string_view start = Str(period, "start"); !start.empty()) return Time(start, "effectivePeriod.start", time);
    }
    return "no `effectiveDateTime`, `effectiveInstant` or `effectivePeriod`: when it was true is not said";
  }

  static std::optional<std::string> Codings(const object& named, std::string_view field, EventFields& e) {
    simdjson::dom::array codings;
    if (!named.at_key("coding").get_array().get(codings)) {
      for (element c : codings) {
        object coding;
        if (c.get_object().get(coding)) continue;
        std::string_view system = Str(coding, "system"), code = Str(coding, "code");
        if (!code.empty()) e.codes.push_back({std::string(system), std::string(code)});
      }
    }
    if (e.codes.empty()) return "`" + std::string(field) + "` has no coding with a code";
    return std::nullopt;
  }

  // value[x] of an Observation or a component.
  static std::optional<std::string> Value(const object& r, EventFields& e) {
    object q;
    if (!r.at_key("valueQuantity").get_object().get(q)) {
      element number;
      std::optional<std::string> n = q.at_key("value").get(number) ? std::nullopt : Number(number);
      if (!n) return "`valueQuantity.value` is not a number";
      if (std::string_view comparator = Str(q, "comparator"); !comparator.empty()) {
        return "`valueQuantity` is a bound (comparator `" + Cut(comparator, 4) + "`), not a value";
      }
      e.value_kind = EventFields::Value::Number;
      e.value = *n;
      // The UCUM code when the quantity gives one, else the human-readable unit.
      std::string_view system = Str(q, "system"), code = Str(q, "code");
      e.unit = std::string(system == "http://unitsofmeasure.org" && !code.empty() ? code : Str(q, "unit"));
      return std::nullopt;
    }
    element v;
    if (!r.at_key("valueInteger").get(v)) {
      int64_t i;
      if (v.get_int64().get(i)) return "`valueInteger` is not an integer";
      e.value_kind = EventFields::Value::Number;
      e.value = std::to_string(i);
      return std::nullopt;
    }
    if (!r.at_key("valueBoolean").get(v)) {
      bool b;
      if (v.get_bool().get(b)) return "`valueBoolean` is not true or false";
      e.value_kind = EventFields::Value::Boolean;
      e.value = b ? "true" : "false";
      return std::nullopt;
    }
    if (!r.at_key("valueString").get(v)) {
      std::string_view s;
      if (v.get_string().get(s)) return "`valueString` is not a string";
      e.value_kind = EventFields::Value::Text;
      e.value = std::string(s);
      return std::nullopt;
    }
    object value_concept;
    if (!r.at_key("valueCodeableConcept").get_object().get(value_concept)) {
      // The first coding's code (the concept's text when it has none).
      EventFields codes;
      std::string_view text = Str(value_concept, "text");
      if (Codings(value_concept, "valueCodeableConcept", codes) && text.empty()) return "`valueCodeableConcept` has no code or text";
      e.value_kind = EventFields::Value::Text;
      e.value = codes.codes.empty() ? std::string(text) : codes.codes[0].code;
      return std::nullopt;
    }
    for (std::string_view other : {"valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod"}) {
      if (!r.at_key(other).error()) return "`" + std::string(other) + "` is not read (a quantity, integer, boolean, string or code is)";
    }
    return std::nullopt;  // no value: an occurrence (the schema says whether its signal needs one)
  }

  std::optional<std::string> Observation(const object& r, std::string_view full_url, Translation& out) const {
    EventFields base;
    // Observation.status: preliminary, final, amended, corrected are results; cancelled
    // and entered-in-error withdraw any version with this id; registered has no result yet.
    const std::string_view status = Str(r, "status");
    if (status == "final" || status == "preliminary") {
      base.status = "final";
    } else if (status == "amended" || status == "corrected") {
      base.status = "amended";
    } else if (status == "entered-in-error" || status == "cancelled") {
      base.status = "entered-in-error";
    } else if (status == "registered") {
      return "status `registered`: no result yet";
    } else {
      return "`status` `" + Cut(status, 20) + "` is not an Observation status";
    }
    if (auto why = Id(r, full_url, base.id)) return why;
    if (auto why = Patient(r, base.patient)) return why;
    if (auto why = Effective(r, base.time)) return why;
    // issued (when this version was made available), else the server's lastUpdated.
    std::string_view issued = Str(r, "issued");
    object meta;
    if (issued.empty() && !r.at_key("meta").get_object().get(meta)) issued = Str(meta, "lastUpdated");
    if (!issued.empty()) {
      int64_t t;
      if (auto why = Time(issued, "issued", t)) return why;
      base.recorded = t;
    }
    object code;
    if (r.at_key("code").get_object().get(code)) return "no `code`";
    simdjson::dom::array components;
    const bool has_components = !r.at_key("component").get_array().get(components) && components.size() > 0;
    const bool withdrawn = base.status == "entered-in-error";
    EventFields whole = base;
    if (auto why = Codings(code, "code", whole)) return why;
    if (!withdrawn) {
      if (auto why = Value(r, whole)) return why;
    }
    // A panel (a blood pressure): each component is an event of its own, the panel one
    // only when it has a value too.
    if (!has_components || whole.value_kind != EventFields::Value::None) out.Event(whole.ToLine());
    if (!has_components) return std::nullopt;  // (an array not read must not be walked)
    size_t i = 0;
    for (element c : components) {
      const std::string at = "component[" + std::to_string(i++) + "]: ";
      object component, ccode;
      if (c.get_object().get(component) || component.at_key("code").get_object().get(ccode)) {
        out.Refuse(at + "has no `code`");
        continue;
      }
      EventFields part = base;
      if (auto why = Codings(ccode, "component.code", part)) {
        out.Refuse(at + *why);
        continue;
      }
      part.id = base.id + "/" + part.codes[0].code;
      if (!withdrawn) {
        if (auto why = Value(component, part)) {
          out.Refuse(at + *why);
          continue;
        }
      }
      out.Event(part.ToLine());
    }
    return std::nullopt;
  }

  // medicationCodeableConcept's codings (an administration's, a request's).
  static std::optional<std::string> Medication(const object& r, EventFields& e) {
    object medication;
    if (r.at_key("medicationCodeableConcept").get_object().get(medication)) {
      return "no `medicationCodeableConcept` (a `medicationReference` to a Medication resource is not followed)";
    }
    return Codings(medication, "medicationCodeableConcept", e);
  }

  std::optional<std::string> MedicationAdministration(const object& r, std::string_view full_url, Translation& out) const {
    EventFields e;
    // completed, in-progress, on-hold and stopped were given (at least begun); not-done and
    // entered-in-error withdraw any version with this id.
    const std::string_view status = Str(r, "status");
    if (status == "completed" || status == "in-progress" || status == "on-hold" || status == "stopped") {
      e.status = "final";
    } else if (status == "not-done" || status == "entered-in-error") {
      e.status = "entered-in-error";
    } else {
      return "`status` `" + Cut(status, 20) + "` is not a MedicationAdministration status that says whether it was given";
    }
    if (auto why = Id(r, full_url, e.id)) return why;
    if (auto why = Patient(r, e.patient)) return why;
    // effective[x]: when the administration started.
    std::string_view when = Str(r, "effectiveDateTime");
    object period;
    if (when.empty() && !r.at_key("effectivePeriod").get_object().get(period)) when = Str(period, "start");
    if (when.empty()) return "no `effectiveDateTime` or `effectivePeriod.start`: when it was given is not said";
    if (auto why = Time(when, "effective", e.time)) return why;
    if (auto why = Medication(r, e)) return why;
    out.Event(e.ToLine());
    return std::nullopt;
  }

  // An order (`"kind": "order"`): its codes map to the signals `from order`, never to an
  // administration's (an antibiotic ordered is not an antibiotic given).
  std::optional<std::string> MedicationRequest(const object& r, std::string_view full_url, Translation& out) const {
    EventFields e;
    e.kind = "order";
    // intent: an order (order, original-order, reflex-order, filler-order, instance-order);
    // a proposal, a plan, a directive or an option is not one yet.
    const std::string_view intent = Str(r, "intent");
    if (intent == "proposal" || intent == "plan" || intent == "directive" || intent == "option") {
      ++out.skipped;
      return std::nullopt;
    }
    if (intent != "order" && intent != "original-order" && intent != "reflex-order" && intent != "filler-order" &&
        intent != "instance-order") {
      return "`intent` `" + Cut(intent, 20) + "` is not a MedicationRequest intent";
    }
    // active, completed, on-hold, stopped: ordered; cancelled, entered-in-error: withdrawn;
    // draft: not yet an order.
    const std::string_view status = Str(r, "status");
    if (status == "active" || status == "completed" || status == "on-hold" || status == "stopped") {
      e.status = "final";
    } else if (status == "cancelled" || status == "entered-in-error") {
      e.status = "entered-in-error";
    } else if (status == "draft") {
      ++out.skipped;
      return std::nullopt;
    } else {
      return "`status` `" + Cut(status, 20) + "` is not a MedicationRequest status that says whether it was ordered";
    }
    if (auto why = Id(r, full_url, e.id)) return why;
    if (auto why = Patient(r, e.patient)) return why;
    const std::string_view authored = Str(r, "authoredOn");
    if (authored.empty()) return "no `authoredOn`: when it was ordered is not said";
    if (auto why = Time(authored, "authoredOn", e.time)) return why;
    if (auto why = Medication(r, e)) return why;
    out.Event(e.ToLine());
    return std::nullopt;
  }

  mutable simdjson::dom::parser parser_;
};

}  // namespace

std::unique_ptr<InputFormat> MakeFhirFormat(const FormatOptions&) { return std::make_unique<FhirFormat>(); }

}  // namespace cdr::runtime
