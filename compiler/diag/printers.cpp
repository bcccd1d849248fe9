// compiler/diag/printers.cpp: diagnostics as compiler-style text, JSON and SARIF 2.1.0.
#include <nlohmann/json.hpp>

#include "compiler/diag/diagnostic.h"
#include "stdlib/utf8.h"

namespace cdr::diag {
namespace {

using source::SourceRange;

std::string Location(const source::SourceManager& sources, const SourceRange& r) {
  if (!r.file.valid()) return "cdr";
  const auto& file = sources.Get(r.file);
  if (r.line <= 0) return file.name();
  return fmt::format("{}:{}:{}", file.name(), r.line, r.column);
}

// The line with invalid UTF-8 sequences replaced by '?', so a terminal never gets raw bytes.
std::string Printable(std::string_view s) { return stdlib::ReplaceInvalidUtf8(s, "?", /*keep_nul=*/false); }

// The source line, then a caret and tildes under the range (first line only).
void Snippet(std::string& out, const source::SourceManager& sources, const SourceRange& r) {
  if (!r.valid()) return;
  const auto& file = sources.Get(r.file);
  std::string printable = Printable(file.Line(r.line));
  std::string_view line = printable;
  std::string gutter = fmt::format("{:>5} | ", r.line);
  out += gutter;
  out += line;
  out += '\n';
  out += std::string(gutter.size() - 2, ' ');
  out += "| ";
  // Walk code points so the caret lines up; keep tabs as tabs.
  int32_t col = 1;
  size_t i = 0;
  while (i < line.size() && col < r.column) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) != 0x80) {
      out += (c == '\t') ? '\t' : ' ';
    }
    ++i;
    while (i < line.size() && (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) ++i;
    ++col;
  }
  int32_t line_len = source::CodePoints(line);
  int32_t end = (r.end_line == r.line) ? r.end_column : line_len + 1;
  int32_t width = std::max(1, end - r.column);
  out += '^';
  if (width > 1) out += std::string(static_cast<size_t>(width - 1), '~');
  out += '\n';
}

}  // namespace

std::string FormatText(const DiagnosticEngine& engine, bool color) {
  const auto& sources = engine.sources();
  std::string out;
  auto sev = [&](Severity s) {
    if (!color) return std::string(SeverityName(s));
    const char* c = s == Severity::Error ? "\x1b[1;31m" : (s == Severity::Warning ? "\x1b[1;35m" : "\x1b[1;36m");
    return fmt::format("{}{}\x1b[0m", c, SeverityName(s));
  };
  for (const Diagnostic& d : engine.diagnostics()) {
    out += fmt::format("{}: {}: {} [{}]\n", Location(sources, d.range), sev(d.severity), d.message,
                       Info(d.kind).name);
    Snippet(out, sources, d.range);
    for (const FixIt& f : d.fixes) {
      if (f.range.line == f.range.end_line && f.range.column == f.range.end_column) {
        out += fmt::format("      = fix: insert `{}` at {}:{}\n", f.replacement, f.range.line, f.range.column);
      } else {
        out += fmt::format("      = fix: replace {}:{}-{}:{} with `{}`\n", f.range.line, f.range.column,
                           f.range.end_line, f.range.end_column, f.replacement);
      }
    }
    for (const Note& n : d.notes) {
      if (n.range.file.valid()) {
        out += fmt::format("{}: {}: {}\n", Location(sources, n.range), sev(Severity::Note), n.message);
      } else {
        out += fmt::format("      = note: {}\n", n.message);
      }
    }
  }
  return out;
}

namespace {

nlohmann::json RangeJson(const source::SourceManager& sources, const SourceRange& r, bool with_file) {
  nlohmann::json j = nlohmann::json::object();
  if (with_file && r.file.valid()) j["file"] = sources.Get(r.file).name();
  if (r.line > 0) {
    j["line"] = r.line;
    j["column"] = r.column;
    j["end_line"] = r.end_line;
    j["end_column"] = r.end_column;
  }
  return j;
}

// JSON from possibly invalid UTF-8 (a message quoting bad input): replace, never throw.
std::string Dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string FormatJson(const DiagnosticEngine& engine) {
  const auto& sources = engine.sources();
  nlohmann::json all = nlohmann::json::array();
  for (const Diagnostic& d : engine.diagnostics()) {
    nlohmann::json j = RangeJson(sources, d.range, true);
    j["severity"] = SeverityName(d.severity);
    j["kind"] = Info(d.kind).name;
    j["message"] = d.message;
    nlohmann::json notes = nlohmann::json::array();
    for (const Note& n : d.notes) {
      nlohmann::json nj = RangeJson(sources, n.range, true);
      nj["message"] = n.message;
      notes.push_back(std::move(nj));
    }
    j["notes"] = std::move(notes);
    nlohmann::json fixes = nlohmann::json::array();
    for (const FixIt& f : d.fixes) {
      nlohmann::json fj = RangeJson(sources, f.range, false);
      fj["replacement"] = f.replacement;
      fixes.push_back(std::move(fj));
    }
    j["fixes"] = std::move(fixes);
    all.push_back(std::move(j));
  }
  return Dump(all, 2) + "\n";
}

std::string FormatSarif(const DiagnosticEngine& engine, std::string_view tool_version) {
  const auto& sources = engine.sources();
  auto level = [](Severity s) { return std::string(SeverityName(s)); };
  auto region = [](const SourceRange& r) {
    return nlohmann::json{{"startLine", r.line},
                          {"startColumn", r.column},
                          {"endLine", r.end_line},
                          {"endColumn", r.end_column}};
  };
  auto location = [&](const SourceRange& r) {
    nlohmann::json phys = {{"artifactLocation", {{"uri", sources.Get(r.file).name()}}}};
    if (r.line > 0) phys["region"] = region(r);
    return nlohmann::json{{"physicalLocation", phys}};
  };
  nlohmann::json rules = nlohmann::json::array();
  for (const KindInfo& k : AllKinds()) {
    rules.push_back({{"id", k.name},
                     {"shortDescription", {{"text", std::string(k.name)}}},
                     {"fullDescription", {{"text", std::string(k.explanation)}}},
                     {"defaultConfiguration", {{"level", level(k.severity)}}}});
  }
  nlohmann::json results = nlohmann::json::array();
  for (const Diagnostic& d : engine.diagnostics()) {
    nlohmann::json r = {{"ruleId", Info(d.kind).name},
                        {"ruleIndex", static_cast<int>(d.kind)},
                        {"level", level(d.severity)},
                        {"message", {{"text", d.message}}}};
    nlohmann::json locs = nlohmann::json::array();
    if (d.range.file.valid()) locs.push_back(location(d.range));
    r["locations"] = std::move(locs);
    if (!d.notes.empty()) {
      nlohmann::json related = nlohmann::json::array();
      int id = 0;
      for (const Note& n : d.notes) {
        nlohmann::json rl = n.range.file.valid() ? location(n.range) : nlohmann::json::object();
        rl["id"] = id++;
        rl["message"] = {{"text", n.message}};
        related.push_back(std::move(rl));
      }
      r["relatedLocations"] = std::move(related);
    }
    if (!d.fixes.empty() && d.range.file.valid()) {
      nlohmann::json replacements = nlohmann::json::array();
      for (const FixIt& f : d.fixes) {
        replacements.push_back({{"deletedRegion", region(f.range)},
                                {"insertedContent", {{"text", f.replacement}}}});
      }
      r["fixes"] = nlohmann::json::array(
          {{{"description", {{"text", "apply the suggested change"}}},
            {"artifactChanges",
             nlohmann::json::array({{{"artifactLocation", {{"uri", sources.Get(d.range.file).name()}}},
                                     {"replacements", replacements}}})}}});
    }
    results.push_back(std::move(r));
  }
  nlohmann::json log = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", nlohmann::json::array({{{"tool",
                                        {{"driver",
                                          {{"name", "cdr"},
                                           {"version", std::string(tool_version)},
                                           {"rules", rules}}}}},
                                       {"columnKind", "unicodeCodePoints"},
                                       {"results", results}}})}};
  return Dump(log, 2) + "\n";
}

}  // namespace cdr::diag
