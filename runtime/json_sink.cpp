// runtime/json_sink.cpp: records as JSON lines (docs/outputs.md).
#include "runtime/json_sink.h"

#include "stdlib/decimal.h"
#include "stdlib/time.h"
#include "stdlib/utf8.h"

namespace cdr::runtime {

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  // Runs of characters that need no escape are appended whole.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {  // the other control characters
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(out, s);
  return out;
}

std::string LossyJsonString(std::string_view s) {
  return JsonString(stdlib::ReplaceInvalidUtf8(s, "\xef\xbf\xbd", /*keep_nul=*/true));  // U+FFFD
}

void AppendDatumJson(std::string& out, const Datum& d) {
  switch (d.kind) {
    case Datum::Kind::Unknown: out += "null"; return;
    case Datum::Kind::Bool: out += d.v ? "true" : "false"; return;
    case Datum::Kind::Int: out += std::to_string(d.v); return;
    case Datum::Kind::Dec: out += stdlib::Decimal::FromRaw(d.v).ToShortString(); return;
    case Datum::Kind::Text: AppendJsonString(out, d.text); return;
    case Datum::Kind::Time:
      out += '"';
      out += stdlib::FormatTime(d.v);
      out += '"';
      return;
  }
  out += "null";
}

std::string DatumJson(const Datum& d) {
  std::string out;
  AppendDatumJson(out, d);
  return out;
}

std::string DatumText(const Datum& d) {
  switch (d.kind) {
    case Datum::Kind::Unknown: return "unknown";
    case Datum::Kind::Text: return d.text;
    case Datum::Kind::Time: return stdlib::FormatTime(d.v);
    default: return DatumJson(d);
  }
}

namespace {

// `"values":{"let":value,...}`: a rule's lets with their values.
void AppendValues(std::string& out, const ir::Rule& rule, const std::vector<Datum>& values) {
  out += "\"values\":{";
  for (size_t i = 0; i < rule.lets.size() && i < values.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, rule.lets[i].name);
    out += ':';
    AppendDatumJson(out, values[i]);
  }
  out += '}';
}

}  // namespace

void AppendAlertJson(std::string& out, const AlertRecord& a) {
  const ir::Rule& rule = *a.rule;
  const AlertBody& body = *a.body;
  out += "{\"alert\":\"";
  out += a.id;
  out += a.action == AlertRecord::Action::Fire ? "\",\"action\":\"fire\"," : "\",\"action\":\"retract\",";
  if (a.backfill) out += "\"backfill\":true,";
  if (rule.shadow) out += "\"shadow\":true,";
  out += "\"rule\":";
  AppendJsonString(out, rule.id);
  out += ",\"version\":";
  AppendJsonString(out, rule.version);
  out += ",\"rule_hash\":";
  AppendJsonString(out, rule.hash);
  out += ",\"patient\":";
  AppendJsonString(out, a.patient);
  out += ",\"time\":\"";
  out += stdlib::FormatTime(a.time);
  out += "\",\"severity\":";
  AppendJsonString(out, a.severity());
  out += ",\"message\":";
  AppendJsonString(out, body.message);
  out += ',';
  AppendValues(out, rule, body.values);
  out += ",\"evidence\":[";
  bool first = true;
  for (size_t i = 0; i < rule.evidence.size() && i < body.evidence.size(); ++i) {
    const auto& events = body.evidence[i];
    if (events.empty()) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    AppendJsonString(out, rule.evidence[i].name);
    out += ",\"events\":[";
    for (size_t k = 0; k < events.size(); ++k) {
      const EvidenceEvent& e = events[k];
      if (k) out += ',';
      out += "{\"id\":";
      AppendJsonString(out, e.id);
      out += ",\"time\":\"";
      out += stdlib::FormatTime(e.time);
      out += "\",\"value\":";
      AppendDatumJson(out, e.value);
      out += e.implausible ? ",\"implausible\":true}" : "}";
    }
    out += "]}";
  }
  out += "]}\n";
}

void AppendTraceJson(std::string& out, const TraceRecord& t) {
  const ir::Rule& rule = *t.rule;
  out += "{\"rule\":";
  AppendJsonString(out, rule.id);
  out += ",\"version\":";
  AppendJsonString(out, rule.version);
  out += ",\"patient\":";
  AppendJsonString(out, t.patient);
  out += ",\"time\":\"";
  out += stdlib::FormatTime(t.time);
  out += "\",";
  AppendValues(out, rule, *t.values);
  out += ",\"held\":[";
  for (size_t k = 0; k < t.held->size(); ++k) {
    int clause = (*t.held)[k];
    if (k) out += ',';
    out += "{\"clause\":";
    out += std::to_string(clause + 1);
    out += ",\"severity\":";
    AppendJsonString(out, rule.whens[static_cast<size_t>(clause)].severity);
    out += '}';
  }
  out += "]}\n";
}

void AppendRefusalJson(std::string& out, const Refusal& r, bool with_input) {
  out += "{\"reason\":";
  AppendJsonString(out, r.reason);
  if (r.partition >= 0) {
    out += ",\"partition\":";
    out += std::to_string(r.partition);
    out += ",\"offset\":";
  } else {
    out += ",\"line\":";
  }
  out += std::to_string(r.line);
  if (with_input) {
    out += ",\"input\":";
    out += LossyJsonString(r.input.substr(0, kMaxRefusedInput));
    if (r.size > kMaxRefusedInput) out += ",\"truncated\":true";
  }
  out += "}\n";
}

void JsonLinesSink::Alert(const AlertRecord& alert) {
  std::ostream* out = alert.rule->shadow ? s_.shadow : s_.alerts;
  if (!out) return;
  line_.clear();
  AppendAlertJson(line_, alert);
  out->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

void JsonLinesSink::Trace(const TraceRecord& record) {
  if (!s_.trace) return;
  line_.clear();
  AppendTraceJson(line_, record);
  s_.trace->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

void JsonLinesSink::DeadLetter(const Refusal& refusal) {
  if (!s_.dead_letter) return;
  line_.clear();
  AppendRefusalJson(line_, refusal, s_.dead_letter_input);
  s_.dead_letter->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

void JsonLinesSink::Late(const Refusal& refusal) {
  if (!s_.late) return;
  line_.clear();
  AppendRefusalJson(line_, refusal, s_.late_input);
  s_.late->write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

}  // namespace cdr::runtime
