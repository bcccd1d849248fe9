// compiler/driver/import.cpp: `cdr import physionet2019 DIR`: PhysioNet/CinC 2019 `.psv`
// stays to NDJSON events, as docs/events.md maps them.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

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

struct Column {
  const char* name;
  const char* loinc;
  const char* unit;
};

// The measured columns: LOINC code and the UCUM unit the challenge gives them in.
constexpr Column kColumns[] = {
    {"HR", "8867-4", "/min"},           {"O2Sat", "59408-5", "%"},         {"Temp", "8310-5", "Cel"},
    {"SBP", "8480-6", "mm[Hg]"},        {"MAP", "8478-0", "mm[Hg]"},       {"DBP", "8462-4", "mm[Hg]"},
    {"Resp", "9279-1", "/min"},         {"EtCO2", "19891-1", "mm[Hg]"},    {"BaseExcess", "1925-7", "mmol/L"},
    {"HCO3", "1963-8", "mmol/L"},       {"FiO2", "3150-0", "1"},           {"pH", "2744-1", "[pH]"},
    {"PaCO2", "2019-8", "mm[Hg]"},      {"SaO2", "2708-6", "%"},           {"AST", "1920-8", "U/L"},
    {"BUN", "3094-0", "mg/dL"},         {"Alkalinephos", "6768-6", "U/L"}, {"Calcium", "17861-6", "mg/dL"},
    {"Chloride", "2075-0", "mmol/L"},   {"Creatinine", "2160-0", "mg/dL"}, {"Bilirubin_direct", "1968-7", "mg/dL"},
    {"Glucose", "2345-7", "mg/dL"},     {"Lactate", "2524-7", "mmol/L"},   {"Magnesium", "19123-9", "mg/dL"},
    {"Phosphate", "2777-1", "mg/dL"},   {"Potassium", "2823-3", "mmol/L"}, {"Bilirubin_total", "1975-2", "mg/dL"},
    {"TroponinI", "10839-9", "ng/mL"},  {"Hct", "4544-3", "%"},            {"Hgb", "718-7", "g/dL"},
    {"PTT", "3173-2", "s"},             {"WBC", "6690-2", "10*3/uL"},      {"Fibrinogen", "3255-7", "mg/dL"},
    {"Platelets", "777-3", "10*3/uL"}};

// 2000-01-01T00:00:00Z: hour ICULOS of every stay is this plus ICULOS hours.
constexpr int64_t kEpoch2000 = 946684800000LL;


std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream ss(line);
  while (std::getline(ss, cell, '|')) out.push_back(cell);
  if (!line.empty() && line.back() == '|') out.emplace_back();
  return out;
}

}  // namespace

bool ReadPsvStay(std::istream& in, const std::string& patient, const std::string& where, std::vector<PsvRow>& rows,
                 size_t& lines, size_t& problems, std::ostream& err) {
  std::string header;
  if (!std::getline(in, header)) {
    err << "cdr import: " << where << ": empty file; skipped\n";
    ++problems;
    return false;
  }
  auto names = Split(header);
  std::vector<int> col_of(names.size(), -1);
  int iculos_col = -1;
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t k = 0; k < std::size(kColumns); ++k) {
      if (names[i] == kColumns[k].name) col_of[i] = static_cast<int>(k);
    }
    if (names[i] == "ICULOS") iculos_col = static_cast<int>(i);
  }
  if (iculos_col < 0) {
    err << "cdr import: " << where << ": no ICULOS column; skipped\n";
    ++problems;
    return false;
  }
  std::string line;
  size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    ++lines;
    auto cells = Split(line);
    if (cells.size() != names.size()) {
      err << fmt::format("cdr import: {}:{}: {} cells, expected {}; row skipped\n", where, line_no, cells.size(),
                         names.size());
      ++problems;
      continue;
    }
    // ICULOS: a whole number of hours, 0 to 10 years.
    const std::string& hours = cells[static_cast<size_t>(iculos_col)];
    auto h = runtime::DecimalFromJson(hours);
    if (!h || *h % stdlib::Decimal::kOne != 0 || *h < 0 || *h / stdlib::Decimal::kOne > 87600) {
      err << fmt::format("cdr import: {}:{}: ICULOS `{}` is not a whole number of hours; row skipped\n", where, line_no,
                         hours.substr(0, 40));
      ++problems;
      continue;
    }
    int iculos = static_cast<int>(*h / stdlib::Decimal::kOne);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (col_of[i] < 0 || cells[i] == "NaN" || cells[i].empty()) continue;
      auto v = runtime::DecimalFromJson(cells[i]);
      if (!v) {
        err << fmt::format("cdr import: {}:{}: {} value `{}` is not a number; skipped\n", where, line_no, names[i],
                           cells[i].substr(0, 40));
        ++problems;
        continue;
      }
      // Written back in canonical form, so the event is valid JSON whatever the cell's spelling.
      rows.push_back(PsvRow{kEpoch2000 + static_cast<int64_t>(iculos) * 3600000, patient, static_cast<size_t>(col_of[i]),
                            stdlib::Decimal::FromRaw(*v).ToShortString(), iculos});
    }
  }
  return true;
}

std::string PsvEventJson(const PsvRow& r) {
  const Column& c = kColumns[r.column];
  std::string time = stdlib::FormatTime(r.time);
  return "{\"id\":" + runtime::LossyJsonString(fmt::format("{}/{}/{}", r.patient, r.iculos, c.name)) +
         ",\"patient\":" + runtime::LossyJsonString(r.patient) + ",\"time\":\"" + time + "\",\"recorded\":\"" + time +
         "\",\"code\":{\"system\":\"http://loinc.org\",\"code\":\"" + c.loinc + "\"},\"value\":" + r.value +
         ",\"unit\":\"" + c.unit + "\"}";
}

int ImportPhysionet(const ImportOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.dir, ec)) {
    std::cerr << "cdr import: " << o.dir << " is not a directory\n";
    return kUsage;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(o.dir, ec)) {
    if (e.path().extension() == ".psv") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "cdr import: no .psv files in " << o.dir << "\n";
    return kUsage;
  }
  std::vector<PsvRow> rows;
  size_t stays = 0, lines = 0, problems = 0;
  for (const auto& path : files) {
    std::ifstream in(path);
    if (ReadPsvStay(in, path.stem().string(), path.string(), rows, lines, problems, std::cerr)) ++stays;
  }
  // Merged across stays in time order, as a live feed would deliver them.
  std::stable_sort(rows.begin(), rows.end(), [](const PsvRow& a, const PsvRow& b) {
    return std::tie(a.time, a.patient, a.column) < std::tie(b.time, b.patient, b.column);
  });
  std::unique_ptr<runtime::OutputFile> file;
  std::ostream* out = OpenOutput(o.out, file, "cdr import");
  if (!out) return kUsage;
  for (const PsvRow& r : rows) *out << PsvEventJson(r) << "\n";
  bool written = CloseOutput(out, file.get(), "cdr import");
  std::cerr << fmt::format("cdr import: {} stays, {} rows, {} events{}\n", stays, lines, rows.size(),
                           problems ? fmt::format(", {} problems reported above", problems) : "");
  return written ? kOk : kUsage;
}

}  // namespace cdr::driver
