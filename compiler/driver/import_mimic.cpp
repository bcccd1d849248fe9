// compiler/driver/import_mimic.cpp: `cdr import mimic-iv DIR`: the MIMIC-IV demo layout
// (hosp/, icu/ of gzipped CSV) to NDJSON events, emitted in `recorded` order so that a
// replay shows the data's real lateness (docs/events.md lists the mapping).
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "compiler/driver/commands.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "stdlib/decimal.h"
#include "stdlib/time.h"

namespace cdr::driver {
namespace {

namespace fs = std::filesystem;

// Reads a gzipped CSV with quoted fields (which may hold commas, quotes and newlines).
class CsvReader {
 public:
  explicit CsvReader(const fs::path& path) : file_(gzopen(path.string().c_str(), "rb")) {}
  /// Reads CSV text from memory (tests, fuzzing).
  explicit CsvReader(std::string text) : file_(nullptr), memory_(std::move(text)), in_memory_(true) {}
  ~CsvReader() {
    if (file_) gzclose(file_);
  }
  bool ok() const { return file_ != nullptr || in_memory_; }

  bool Next(std::vector<std::string>& row) {
    row.clear();
    std::string field;
    bool quoted = false, any = false;
    while (true) {
      int c = Get();
      if (c < 0) {
        if (any || !field.empty()) row.push_back(field);
        return !row.empty();
      }
      any = true;
      if (quoted) {
        if (c == '"') {
          if (Peek() == '"') {
            Get();
            field += '"';
          } else {
            quoted = false;
          }
        } else {
          field += static_cast<char>(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        row.push_back(std::move(field));
        field.clear();
      } else if (c == '\n') {
        row.push_back(std::move(field));
        return true;
      } else if (c != '\r') {
        field += static_cast<char>(c);
      }
    }
  }

 private:
  int Get() {
    if (in_memory_) return mem_pos_ < memory_.size() ? static_cast<unsigned char>(memory_[mem_pos_++]) : -1;
    if (pos_ == len_) {
      len_ = file_ ? gzread(file_, buf_, sizeof buf_) : 0;
      pos_ = 0;
      if (len_ <= 0) {
        len_ = 0;
        return -1;
      }
    }
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  int Peek() {
    int c = Get();
    if (c >= 0) {
      if (in_memory_) --mem_pos_;
      else --pos_;
    }
    return c;
  }

  gzFile file_;
  std::string memory_;
  size_t mem_pos_ = 0;
  bool in_memory_ = false;
  char buf_[1 << 16];
  int len_ = 0, pos_ = 0;
};

struct Out {
  int64_t recorded;
  int64_t time;
  std::string line;
};

// MIMIC's shifted local date-times (`2148-08-16 00:00:00`), read as UTC.
std::optional<int64_t> MimicTime(const std::string& s) {
  if (s.size() < 10) return std::nullopt;
  std::string iso = s;
  if (iso.size() >= 19 && iso[10] == ' ') iso[10] = 'T';
  if (iso.size() == 10) return stdlib::ParseTime(iso);
  return stdlib::ParseTime(iso + "Z");
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Table {
  std::vector<std::string> header;
  std::map<std::string, size_t> col;
  size_t rows = 0, used = 0, skipped = 0;
};

bool Open(CsvReader& r, Table& t, const std::string& path, const std::vector<std::string>& need, std::ostream& err) {
  if (!r.ok() || !r.Next(t.header)) {
    err << "cdr import: cannot read " << path << "\n";
    return false;
  }
  for (size_t i = 0; i < t.header.size(); ++i) t.col[t.header[i]] = i;
  for (const auto& n : need) {
    if (!t.col.count(n)) {
      err << "cdr import: " << path << " has no column `" << n << "`\n";
      return false;
    }
  }
  return true;
}

// A number cell in canonical form (valid JSON whatever its spelling), or empty.
std::string Number(const std::string& cell) {
  auto v = runtime::DecimalFromJson(cell);
  return v ? stdlib::Decimal::FromRaw(*v).ToShortString() : std::string();
}

// Strings from the CSV are written with invalid UTF-8 replaced, so every line is JSON.
std::string Event(const std::string& id, const std::string& patient, int64_t time, int64_t recorded,
                  const std::string& what, const std::string& value, const std::string& unit) {
  std::string s = "{\"id\":" + runtime::LossyJsonString(id) + ",\"patient\":" + runtime::LossyJsonString(patient) +
                  ",\"time\":\"" + stdlib::FormatTime(time) + "\",\"recorded\":\"" + stdlib::FormatTime(recorded) + "\"," +
                  what;
  if (!value.empty()) s += ",\"value\":" + value;
  if (!unit.empty()) s += ",\"unit\":" + runtime::LossyJsonString(unit);
  return s + "}";
}

// What a table row became.
enum class RowUse { Used, Ignored, Skipped };  // an event; not wanted (another item); unusable

using Opener = std::function<std::unique_ptr<CsvReader>(const std::string&)>;
using Cells = std::vector<std::string>;

// Reads table `path` through `open`: every row with the header's width and a patient goes
// to `map`, which adds its event to `out` (or says why not); counted in `t`. False when the
// table cannot be read or lacks a column of `need`.
bool ReadTable(const Opener& open, const std::string& path, const std::vector<std::string>& need, Table& t,
               std::ostream& err, const std::function<RowUse(const Cells&)>& map) {
  auto reader = open(path);
  CsvReader& r = *reader;
  if (!Open(r, t, path, need, err)) return false;
  Cells row;
  while (r.Next(row)) {
    if (row.size() != t.header.size()) {
      ++t.skipped;
      continue;
    }
    ++t.rows;
    if (row[t.col["subject_id"]].empty()) {  // no patient: nothing to key the event by
      ++t.skipped;
      continue;
    }
    RowUse use = map(row);
    t.used += use == RowUse::Used;
    t.skipped += use == RowUse::Skipped;
  }
  return true;
}

// Laboratory results: itemid -> (LOINC, UCUM unit as MIMIC gives it).
RowUse LabRow(const Cells& row, Table& t, std::vector<Out>& out) {
  static const std::map<std::string, std::pair<const char*, const char*>> labs = {
      {"50912", {"2160-0", "mg/dL"}},   // creatinine
      {"50813", {"2524-7", "mmol/L"}},  // lactate
      {"51301", {"6690-2", "10*3/uL"}}, // white blood cells (K/uL)
      {"51265", {"777-3", "10*3/uL"}},  // platelets (K/uL)
      {"50885", {"1975-2", "mg/dL"}},   // bilirubin, total
      {"50971", {"2823-3", "mEq/L"}},   // potassium
      {"50931", {"2345-7", "mg/dL"}},   // glucose
  };
  auto it = labs.find(row[t.col["itemid"]]);
  if (it == labs.end()) return RowUse::Ignored;
  std::string v = Number(row[t.col["valuenum"]]);
  auto time = MimicTime(row[t.col["charttime"]]);
  auto rec = MimicTime(row[t.col["storetime"]]);
  if (v.empty() || !time) return RowUse::Skipped;
  if (!rec) rec = time;
  out.push_back(Out{*rec, *time,
                    Event("lab/" + row[t.col["labevent_id"]], row[t.col["subject_id"]], *time, *rec,
                          fmt::format("\"code\":{{\"system\":\"http://loinc.org\",\"code\":\"{}\"}}", it->second.first), v,
                          it->second.second)});
  return RowUse::Used;
}

// Antibiotic administrations (systemic; ophthalmic and topical forms left out).
RowUse EmarRow(const Cells& row, Table& t, std::vector<Out>& out) {
  static const std::vector<std::pair<const char*, const char*>> antibiotics = {
      {"vancomycin", "11124"},  {"piperacillin", "8339"}, {"cefepime", "20481"},    {"ceftriaxone", "2193"},
      {"meropenem", "29561"},   {"metronidazole", "6922"}, {"cefazolin", "2180"},    {"ciprofloxacin", "2551"},
      {"levofloxacin", "82122"}, {"azithromycin", "18631"}, {"ampicillin", "733"},   {"amoxicillin", "723"},
      {"clindamycin", "2582"},  {"doxycycline", "3640"},  {"linezolid", "190376"}};
  std::string med = Lower(row[t.col["medication"]]);
  const std::string& what = row[t.col["event_txt"]];
  if (what != "Administered" && what != "Started") return RowUse::Ignored;
  for (const char* form : {"ophth", "topical", "cream", "ointment", "gel", "drops"}) {
    if (med.find(form) != std::string::npos) return RowUse::Ignored;
  }
  const char* code = nullptr;
  for (const auto& [name, rx] : antibiotics) {
    if (med.find(name) != std::string::npos) {
      code = rx;
      break;
    }
  }
  if (!code) return RowUse::Ignored;
  auto time = MimicTime(row[t.col["charttime"]]);
  auto rec = MimicTime(row[t.col["storetime"]]);
  if (!time) return RowUse::Skipped;
  if (!rec) rec = time;
  out.push_back(Out{*rec, *time,
                    Event("emar/" + row[t.col["emar_id"]], row[t.col["subject_id"]], *time, *rec,
                          fmt::format("\"code\":{{\"system\":\"http://www.nlm.nih.gov/research/umls/rxnorm\","
                                      "\"code\":\"{}\"}}",
                                      code),
                          "", "")});
  return RowUse::Used;
}

// Cultures: one event per specimen of a body fluid or tissue (screens left out); `seen`
// holds the specimens already read.
RowUse MicroRow(const Cells& row, Table& t, std::vector<Out>& out, std::set<std::string>& seen) {
  static const std::vector<std::string> kinds = {"BLOOD CULTURE", "URINE", "SPUTUM", "BRONCHOALVEOLAR LAVAGE",
                                                 "BRONCHIAL WASHINGS", "PERITONEAL FLUID", "PLEURAL FLUID",
                                                 "CSF;SPINAL FLUID", "JOINT FLUID", "TISSUE", "ABSCESS", "FLUID,OTHER",
                                                 "FLUID RECEIVED IN BLOOD CULTURE BOTTLES"};
  const std::string& spec = row[t.col["spec_type_desc"]];
  if (std::find(kinds.begin(), kinds.end(), spec) == kinds.end()) return RowUse::Ignored;
  std::string id = "micro/" + row[t.col["micro_specimen_id"]];
  if (!seen.insert(id).second) return RowUse::Ignored;
  auto time = MimicTime(row[t.col["charttime"]]);
  if (!time) time = MimicTime(row[t.col["chartdate"]]);
  auto rec = MimicTime(row[t.col["storetime"]]);
  if (!rec) rec = MimicTime(row[t.col["storedate"]]);
  if (!time) return RowUse::Skipped;
  if (!rec) rec = time;
  std::string what = spec == "BLOOD CULTURE" ? "\"code\":{\"system\":\"http://loinc.org\",\"code\":\"600-7\"}"
                     : spec == "URINE"       ? "\"code\":{\"system\":\"http://loinc.org\",\"code\":\"630-4\"}"
                                             : "\"signal\":\"culture_drawn\"";
  std::string value = runtime::LossyJsonString(spec == "BLOOD CULTURE" ? "600-7" : spec == "URINE" ? "630-4" : spec);
  out.push_back(Out{*rec, *time, Event(id, row[t.col["subject_id"]], *time, *rec, what, value, "")});
  return RowUse::Used;
}

// Urine output (ICU output events of the urine items).
RowUse OutputRow(const Cells& row, Table& t, std::vector<Out>& out) {
  static const std::vector<std::string> urine_items = {"226559", "226560", "226561", "226584", "226563", "226564",
                                                       "226565", "226567", "226557", "226558", "227489"};
  const std::string& item = row[t.col["itemid"]];
  if (std::find(urine_items.begin(), urine_items.end(), item) == urine_items.end()) return RowUse::Ignored;
  std::string v = Number(row[t.col["value"]]);
  auto time = MimicTime(row[t.col["charttime"]]);
  auto rec = MimicTime(row[t.col["storetime"]]);
  std::string unit = row[t.col["valueuom"]] == "ml" ? "mL" : row[t.col["valueuom"]];
  if (v.empty() || !time) return RowUse::Skipped;
  if (!rec) rec = time;
  std::string id = "out/" + row[t.col["stay_id"]] + "/" + item + "/" + row[t.col["charttime"]];
  out.push_back(Out{*rec, *time,
                    Event(id, row[t.col["subject_id"]], *time, *rec,
                          "\"code\":{\"system\":\"http://loinc.org\",\"code\":\"9187-6\"}", v, unit)});
  return RowUse::Used;
}

}  // namespace

// Reads the four tables through `open` into events; false when a table cannot be read.
bool CollectMimic(const Opener& open, std::vector<Out>& out, std::ostream& err,
                  std::vector<std::pair<const char*, Table>>& stats) {
  Table lab, emar, micro, outputs;
  std::set<std::string> specimens;
  bool ok =
      ReadTable(open, "hosp/labevents.csv.gz", {"labevent_id", "subject_id", "itemid", "charttime", "storetime", "valuenum"},
                lab, err, [&](const Cells& row) { return LabRow(row, lab, out); }) &&
      ReadTable(open, "hosp/emar.csv.gz", {"subject_id", "emar_id", "charttime", "medication", "event_txt", "storetime"},
                emar, err, [&](const Cells& row) { return EmarRow(row, emar, out); }) &&
      ReadTable(open, "hosp/microbiologyevents.csv.gz",
                {"subject_id", "micro_specimen_id", "chartdate", "charttime", "spec_type_desc", "storedate", "storetime"},
                micro, err, [&](const Cells& row) { return MicroRow(row, micro, out, specimens); }) &&
      ReadTable(open, "icu/outputevents.csv.gz",
                {"subject_id", "stay_id", "charttime", "storetime", "itemid", "value", "valueuom"}, outputs, err,
                [&](const Cells& row) { return OutputRow(row, outputs, out); });
  if (!ok) return false;
  // In the order the system learned of them: a replay shows the real lateness.
  std::stable_sort(out.begin(), out.end(), [](const Out& a, const Out& b) {
    return std::tie(a.recorded, a.time, a.line) < std::tie(b.recorded, b.time, b.line);
  });
  stats = {{"labevents", lab}, {"emar", emar}, {"microbiologyevents", micro}, {"outputevents", outputs}};
  return true;
}

std::vector<std::string> MimicEventsFromText(const std::vector<std::string>& tables, std::ostream& err) {
  // tables: labevents, emar, microbiologyevents, outputevents, as CSV text
  std::vector<Out> out;
  std::vector<std::pair<const char*, Table>> stats;
  auto open = [&](const std::string& rel) {
    size_t i = rel == "hosp/labevents.csv.gz" ? 0 : rel == "hosp/emar.csv.gz" ? 1 : rel == "hosp/microbiologyevents.csv.gz" ? 2 : 3;
    return std::make_unique<CsvReader>(i < tables.size() ? tables[i] : std::string());
  };
  std::vector<std::string> lines;
  if (!CollectMimic(open, out, err, stats)) return lines;
  for (const Out& e : out) lines.push_back(e.line);
  return lines;
}

int ImportMimic(const ImportOptions& o) {
  fs::path dir(o.dir);
  std::vector<Out> out;
  std::vector<std::pair<const char*, Table>> stats;
  auto open = [&](const std::string& rel) { return std::make_unique<CsvReader>(dir / rel); };
  if (!CollectMimic(open, out, std::cerr, stats)) return kUsage;
  std::unique_ptr<runtime::OutputFile> file;
  std::ostream* os = OpenOutput(o.out, file, "cdr import");
  if (!os) return kUsage;
  int64_t max_late = 0;
  for (const Out& e : out) {
    *os << e.line << "\n";
    max_late = std::max(max_late, e.recorded - e.time);
  }
  bool written = CloseOutput(os, file.get(), "cdr import");
  for (const auto& [what, t] : stats) {
    std::cerr << fmt::format("cdr import: {}: {} rows, {} events, {} rows skipped (malformed or no value)\n", what, t.rows,
                             t.used, t.skipped);
  }
  std::cerr << fmt::format("cdr import: {} events in recorded order; largest lateness (recorded - time) {:.1f} h\n",
                           out.size(), max_late / 3600000.0);
  return written ? kOk : kUsage;
}

}  // namespace cdr::driver
