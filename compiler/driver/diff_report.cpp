// compiler/driver/diff_report.cpp: the reports of `cdr diff`: text, Markdown, JSON and one
// self-contained HTML file (inline CSS and SVG, no script, no network; prints well).
#include <fmt/format.h>

#include <algorithm>

#include "compiler/driver/diff.h"

namespace cdr::driver {
namespace {

constexpr size_t kHtmlRows = 200;     // changed alerts listed per rule in the HTML report
constexpr size_t kMarkdownRows = 10;  // and in the Markdown summary

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Text in a Markdown table cell: pipes escaped, no line breaks.
std::string Cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

// "+1 h 30 min", "-15 min", "0 min": a shift of time to first alert.
std::string Shift(int64_t ms) {
  if (ms == 0) return "0 min";
  const char* sign = ms < 0 ? "-" : "+";
  int64_t minutes = (ms < 0 ? -ms : ms) / 60000;
  int64_t h = minutes / 60, m = minutes % 60;
  if (h && m) return fmt::format("{}{} h {} min", sign, h, m);
  if (h) return fmt::format("{}{} h", sign, h);
  return fmt::format("{}{} min", sign, m);
}

std::string Signed(size_t before, size_t after) {
  if (after >= before) return fmt::format("+{}", after - before);
  return fmt::format("-{}", before - after);
}

// "1.0.0 → 1.1.0", with the statuses when they changed ("2.0.0 retired → 2.0.0 review").
std::string Version(const RuleDiff& r) {
  if (!r.in_base) return "added: " + r.head_version + (r.head_status.empty() ? "" : " " + r.head_status);
  if (!r.in_head) return "removed: " + r.base_version + (r.base_status.empty() ? "" : " " + r.base_status);
  const bool status = r.base_status != r.head_status;
  std::string before = r.base_version + (status ? " " + r.base_status : "");
  std::string after = r.head_version + (status ? " " + r.head_status : "");
  return before == after ? before : before + " → " + after;
}

// "1 changed alert", "3 changed alerts".
std::string Plural(size_t n, std::string_view what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); }

std::string FirstShift(const RuleDiff& r) {
  if (!r.first_shift_median_ms) return "n/a";
  return fmt::format("{} ({} earlier, {} later, {} same)", Shift(*r.first_shift_median_ms), r.first_earlier,
                     r.first_later, r.first_same);
}

const char* KindName(AlertChange::Kind k) {
  switch (k) {
    case AlertChange::Kind::Added: return "added";
    case AlertChange::Kind::Removed: return "removed";
    case AlertChange::Kind::Changed: return "changed";
  }
  return "";
}

// The values of a change: for an alert on both sides, those that differ (`score 6 → 7`);
// else all of the side that has it (`rr 25, score 7`).
std::string ValuesText(const AlertChange& c) {
  std::string out;
  auto add = [&out](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
  if (c.base && c.head && c.base->values.is_object() && c.head->values.is_object()) {
    for (const auto& [k, v] : c.head->values.items()) {
      auto b = c.base->values.find(k);
      if (b == c.base->values.end()) {
        add(k + " " + v.dump() + " (new)");
      } else if (*b != v) {
        add(k + " " + b->dump() + " → " + v.dump());
      }
    }
    for (const auto& [k, v] : c.base->values.items()) {
      if (!c.head->values.contains(k)) add(k + " " + v.dump() + " (gone)");
    }
    return out;
  }
  const DiffAlert* a = c.head ? c.head : c.base;
  if (a && a->values.is_object()) {
    for (const auto& [k, v] : a->values.items()) add(k + " " + v.dump());
  }
  return out;
}

// "t 38.2 at 05:00": the events an alert cites (the date too when not the alert's).
std::string EvidenceText(const DiffAlert* a) {
  if (!a || !a->evidence.is_array()) return "";
  std::string out;
  const std::string day = a->time_text.substr(0, 10);
  for (const auto& e : a->evidence) {
    if (!e.is_object() || !e.contains("events") || !e["events"].is_array()) continue;
    for (const auto& ev : e["events"]) {
      if (!ev.is_object()) continue;
      std::string time = ev.value("time", "");
      if (time.size() >= 16) time = time.compare(0, 10, day) == 0 ? time.substr(11, 5) : time.substr(0, 16);
      out += fmt::format("{}{} {} at {}", out.empty() ? "" : "; ", e.value("name", ""),
                         ev.contains("value") ? ev["value"].dump() : "", time);
    }
  }
  return out;
}

std::string Side(const DiffAlert* a) {
  if (!a) return "—";
  return a->severity + ": " + a->message;
}

bool Changed(const RuleDiff& r) { return !r.same(); }

// Alerts per day of one rule, before and after, as grouped bars with axes (inline SVG).
std::string DayPlot(const RuleDiff& r) {
  if (r.by_day.empty()) return "<p>No alerts on either side.</p>\n";
  const int width = 760, height = 240, left = 50, right = 10, top = 20, bottom = 50;
  size_t peak = 1;
  for (const auto& [_, c] : r.by_day) peak = std::max({peak, c.first, c.second});
  // A round top for the axis: 1, 2 or 5 times a power of ten.
  size_t step = 1;
  for (size_t mult = 1;; mult *= 10) {
    if (peak <= 5 * mult) { step = mult; break; }
    if (peak <= 10 * mult) { step = 2 * mult; break; }
    if (peak <= 25 * mult) { step = 5 * mult; break; }
  }
  size_t ymax = ((peak + step - 1) / step) * step;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const double slot = plot_w / static_cast<double>(r.by_day.size());
  const double bar = std::max(1.0, slot * 0.38);
  std::string svg = fmt::format(
      "<svg class=\"plot\" role=\"img\" aria-label=\"alerts per day of {0}\" xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"{1}\" height=\"{2}\" viewBox=\"0 0 {1} {2}\">\n",
      Escape(r.rule), width, height);
  // Grid lines and the y axis's labels.
  for (size_t y = 0; y <= ymax; y += step) {
    double py = top + plot_h - plot_h * static_cast<double>(y) / static_cast<double>(ymax);
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" class=\"grid\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>\n",
                       left, py, width - right, py, left - 6, py + 4, y);
  }
  size_t i = 0;
  const size_t label_every = std::max<size_t>(1, r.by_day.size() / 12);
  for (const auto& [day, c] : r.by_day) {
    double x = left + slot * static_cast<double>(i) + (slot - 2 * bar) / 2;
    double hb = plot_h * static_cast<double>(c.first) / static_cast<double>(ymax);
    double hh = plot_h * static_cast<double>(c.second) / static_cast<double>(ymax);
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"base\"><title>{} "
                       "before: {}</title></rect>",
                       x, top + plot_h - hb, bar, hb, day, c.first);
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"head\"><title>{} "
                       "after: {}</title></rect>\n",
                       x + bar, top + plot_h - hh, bar, hh, day, c.second);
    if (i % label_every == 0) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>\n", x + bar,
                         top + plot_h + 16, day.substr(5));
    }
    ++i;
  }
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"axis\"/>"
                     "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\" class=\"axis\"/>\n",
                     left, top, top + plot_h, width - right);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">day (UTC, month-day)</text>\n",
                     left + plot_w / 2, height - 14);
  svg += fmt::format("<rect x=\"{0}\" y=\"4\" width=\"10\" height=\"10\" class=\"base\"/><text x=\"{1}\" y=\"13\" "
                     "class=\"tick\">before</text><rect x=\"{2}\" y=\"4\" width=\"10\" height=\"10\" class=\"head\"/>"
                     "<text x=\"{3}\" y=\"13\" class=\"tick\">after</text>\n",
                     width - 150, width - 136, width - 80, width - 66);
  svg += "</svg>\n";
  return svg;
}

constexpr const char* kCss = R"(body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.meta{color:#57606a}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#b42318}.down{color:#1a7f37}
pre.diff{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px;line-height:1.35}
pre.diff .add{background:#dafbe1;display:block}pre.diff .del{background:#ffebe9;display:block}pre.diff .hunk{color:#8c959f;display:block}
svg.plot{max-width:100%;height:auto}svg .grid{stroke:#eaeef2}svg .axis{stroke:#57606a}
svg .tick{font-size:10px;fill:#57606a}svg .label{font-size:11px;fill:#1b1f24}
svg .base{fill:#8c959f}svg .head{fill:#0969da}
section.rule{page-break-inside:avoid;break-inside:avoid-page}
@media print{body{margin:0;max-width:none}section.rule{page-break-before:auto}a{color:inherit}}
)";

}  // namespace

std::string DiffText(const DiffResult& d) {
  std::string out = fmt::format("cdr diff: {} -> {}{}\n", d.base_name, d.head_name,
                                d.events_name.empty() ? "" : " over " + d.events_name);
  for (const RuleDiff& r : d.rules) {
    if (!Changed(r)) {
      out += fmt::format("  {}: unchanged ({} alerts)\n", r.rule, r.base_alerts);
      continue;
    }
    out += fmt::format("  {} {}: {} -> {} alerts ({}); patients: {} newly alerted, {} no longer; {} added, {} removed, "
                       "{} changed; first alert: {}\n",
                       r.rule, Version(r), r.base_alerts, r.head_alerts, Signed(r.base_alerts, r.head_alerts),
                       r.newly_alerted.size(), r.no_longer_alerted.size(), r.added, r.removed, r.changed, FirstShift(r));
  }
  return out;
}

nlohmann::ordered_json DiffJson(const DiffResult& d) {
  nlohmann::ordered_json j;
  j["base"] = d.base_name;
  j["head"] = d.head_name;
  j["events"] = d.events_name;
  j["events_read"] = d.events_read;
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleDiff& r : d.rules) {
    nlohmann::ordered_json rj;
    rj["rule"] = r.rule;
    rj["base_version"] = r.base_version;
    rj["head_version"] = r.head_version;
    rj["base_hash"] = r.base_hash;
    rj["head_hash"] = r.head_hash;
    rj["base_alerts"] = r.base_alerts;
    rj["head_alerts"] = r.head_alerts;
    rj["base_patients"] = r.base_patients;
    rj["head_patients"] = r.head_patients;
    rj["newly_alerted"] = r.newly_alerted;
    rj["no_longer_alerted"] = r.no_longer_alerted;
    rj["added"] = r.added;
    rj["removed"] = r.removed;
    rj["changed"] = r.changed;
    nlohmann::ordered_json sev;
    for (const auto& [s, c] : r.by_severity) sev[s] = {c.first, c.second};
    rj["by_severity"] = sev;
    nlohmann::ordered_json days;
    for (const auto& [day, c] : r.by_day) days[day] = {c.first, c.second};
    rj["by_day"] = days;
    rj["first_alert_shift_median_ms"] =
        r.first_shift_median_ms ? nlohmann::ordered_json(*r.first_shift_median_ms) : nlohmann::ordered_json(nullptr);
    rj["first_alert_earlier"] = r.first_earlier;
    rj["first_alert_later"] = r.first_later;
    rj["first_alert_same"] = r.first_same;
    rj["text_changed"] = !r.text_diff.empty();
    rules.push_back(rj);
  }
  j["rules"] = rules;
  return j;
}

std::string DiffMarkdown(const DiffResult& d) {
  std::string out = fmt::format("## cdr diff: `{}` → `{}`\n\n", d.base_name, d.head_name);
  if (!d.events_name.empty()) out += fmt::format("History: `{}` ({} events).\n\n", d.events_name, d.events_read);
  std::vector<const RuleDiff*> changed;
  std::string unchanged;
  for (const RuleDiff& r : d.rules) {
    if (Changed(r)) {
      changed.push_back(&r);
    } else {
      unchanged += fmt::format("{}`{}` ({})", unchanged.empty() ? "" : ", ", r.rule, r.base_alerts);
    }
  }
  if (changed.empty()) {
    out += "No rule changed: every alert is the same.\n";
  } else {
    out += "| rule | version | alerts | Δ | newly alerted | no longer alerted | added | removed | changed | first alert "
           "(median shift) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const RuleDiff* r : changed) {
      out += fmt::format("| `{}` | {} | {} → {} | {} | {} | {} | {} | {} | {} | {} |\n", r->rule, Cell(Version(*r)),
                         r->base_alerts, r->head_alerts, Signed(r->base_alerts, r->head_alerts), r->newly_alerted.size(),
                         r->no_longer_alerted.size(), r->added, r->removed, r->changed, FirstShift(*r));
    }
  }
  if (!unchanged.empty()) out += "\nUnchanged (alerts): " + unchanged + ".\n";
  for (const RuleDiff* r : changed) {
    out += fmt::format("\n### `{}`\n\n| severity | before | after |\n|---|---:|---:|\n", r->rule);
    for (const auto& [s, c] : r->by_severity) out += fmt::format("| {} | {} | {} |\n", s, c.first, c.second);
    if (!r->changes.empty()) {
      out += fmt::format("\n{}{}:\n\n| patient | time | change | before | after | values |\n|---|---|---|---|---|---|\n",
                         Plural(r->changes.size(), "changed alert"),
                         r->changes.size() > kMarkdownRows ? fmt::format(" (the first {})", kMarkdownRows) : "");
      for (size_t i = 0; i < r->changes.size() && i < kMarkdownRows; ++i) {
        const AlertChange& c = r->changes[i];
        const DiffAlert* any = c.head ? c.head : c.base;
        out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", Cell(c.patient), any->time_text, KindName(c.kind),
                           Cell(Side(c.base)), Cell(Side(c.head)), Cell(ValuesText(c)));
      }
    }
    if (!r->text_diff.empty()) {
      out += "\n<details><summary>Rule text</summary>\n\n```diff\n" + r->text_diff + "```\n\n</details>\n";
    }
  }
  return out;
}

std::string DiffHtml(const DiffResult& d) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>cdr diff: " +
                    Escape(d.base_name) + " → " + Escape(d.head_name) + "</title>\n<style>\n" + kCss +
                    "</style>\n</head>\n<body>\n";
  out += "<h1>cdr diff: what the change does on the history</h1>\n";
  out += fmt::format("<p class=\"meta\">Before: <code>{}</code><br>After: <code>{}</code>{}</p>\n", Escape(d.base_name),
                     Escape(d.head_name),
                     d.events_name.empty()
                         ? ""
                         : fmt::format("<br>History: <code>{}</code> ({} events)", Escape(d.events_name), d.events_read));
  out += "<p class=\"meta\">Final alerts compared (retractions applied). An alert is the same when its rule, patient "
         "and evaluation time are; it changed when its severity, message or values differ.</p>\n";
  out += "<h2>Summary</h2>\n<table>\n<tr><th>rule</th><th>version</th><th>alerts before</th><th>after</th><th>Δ</th>"
         "<th>patients before</th><th>after</th><th>newly alerted</th><th>no longer alerted</th><th>added</th>"
         "<th>removed</th><th>changed</th><th>time to first alert (median shift)</th></tr>\n";
  for (const RuleDiff& r : d.rules) {
    const char* cls = r.head_alerts > r.base_alerts ? "up" : r.head_alerts < r.base_alerts ? "down" : "";
    out += fmt::format(
        "<tr><td><a href=\"#rule-{0}\">{0}</a></td><td>{1}</td><td class=\"n\">{2}</td><td class=\"n\">{3}</td><td "
        "class=\"n {4}\">{5}</td><td class=\"n\">{6}</td><td class=\"n\">{7}</td><td class=\"n\">{8}</td><td "
        "class=\"n\">{9}</td><td class=\"n\">{10}</td><td class=\"n\">{11}</td><td class=\"n\">{12}</td><td>{13}</td></tr>\n",
        Escape(r.rule), Escape(Version(r)), r.base_alerts, r.head_alerts, cls, Signed(r.base_alerts, r.head_alerts),
        r.base_patients, r.head_patients, r.newly_alerted.size(), r.no_longer_alerted.size(), r.added, r.removed,
        r.changed, Escape(FirstShift(r)));
  }
  out += "</table>\n";
  for (const RuleDiff& r : d.rules) {
    out += fmt::format("<section class=\"rule\" id=\"rule-{0}\">\n<h2>{0} <span class=\"meta\">{1}</span></h2>\n",
                       Escape(r.rule), Escape(Version(r)));
    if (!Changed(r)) {
      out += fmt::format("<p>Unchanged: the same {} alerts, the same rule text.</p>\n</section>\n", r.base_alerts);
      continue;
    }
    out += fmt::format("<p class=\"meta\">Hash before: <code>{}</code><br>Hash after: <code>{}</code></p>\n",
                       Escape(r.base_hash.empty() ? "—" : r.base_hash), Escape(r.head_hash.empty() ? "—" : r.head_hash));
    out += "<h3>Alerts per day</h3>\n" + DayPlot(r);
    out += "<h3>By severity</h3>\n<table><tr><th>severity</th><th>before</th><th>after</th><th>Δ</th></tr>\n";
    for (const auto& [s, c] : r.by_severity) {
      out += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                         Escape(s), c.first, c.second, Signed(c.first, c.second));
    }
    out += "</table>\n";
    out += fmt::format("<h3>Patients</h3>\n<p>{} alerted before, {} after; newly alerted: {}; no longer alerted: {}. "
                       "Time to first alert, over the {} patients alerted on both sides: median shift {}.</p>\n",
                       r.base_patients, r.head_patients, r.newly_alerted.size(), r.no_longer_alerted.size(),
                       r.first_earlier + r.first_later + r.first_same, Escape(FirstShift(r)));
    if (!r.changes.empty()) {
      out += fmt::format("<h3>Changed alerts ({}{})</h3>\n", r.changes.size(),
                         r.changes.size() > kHtmlRows ? fmt::format(", the first {} listed", kHtmlRows) : "");
      out += "<table><tr><th>patient</th><th>time</th><th>change</th><th>before</th><th>after</th><th>values</th>"
             "<th>evidence</th></tr>\n";
      for (size_t i = 0; i < r.changes.size() && i < kHtmlRows; ++i) {
        const AlertChange& c = r.changes[i];
        const DiffAlert* any = c.head ? c.head : c.base;
        out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                           Escape(c.patient), Escape(any->time_text), KindName(c.kind), Escape(Side(c.base)),
                           Escape(Side(c.head)), Escape(ValuesText(c)), Escape(EvidenceText(any)));
      }
      out += "</table>\n";
    }
    if (!r.text_diff.empty()) {
      out += "<h3>Rule text</h3>\n<pre class=\"diff\">";
      size_t start = 0;
      while (start < r.text_diff.size()) {
        size_t end = r.text_diff.find('\n', start);
        std::string_view line(r.text_diff.data() + start, end - start);
        const char* cls = line[0] == '+' ? "add" : line[0] == '-' ? "del" : line[0] == '@' ? "hunk" : nullptr;
        if (cls) {
          out += fmt::format("<span class=\"{}\">{}</span>", cls, Escape(line));
        } else {
          out += Escape(line) + "\n";
        }
        start = end + 1;
      }
      out += "</pre>\n";
    }
    out += "</section>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace cdr::driver
