// compiler/driver/import_format.cpp: `cdr import hl7v2|fhir PATH...`: the records of an
// input format (runtime/input_format.h: HL7 v2 messages, FHIR resources and Bundles) as
// NDJSON events, in the order of the files and of their records. Codes and units are
// carried as the records write them: the schemas map them to signals when the events are
// read (docs/ingest.md).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "compiler/driver/commands.h"
#include "runtime/output_file.h"

namespace cdr::driver {
namespace {

namespace fs = std::filesystem;

// Writes each record's events; its refused parts are reported on stderr.
class Writer final : public runtime::RecordSink {
 public:
  Writer(const runtime::InputFormat& format, std::ostream& out, std::string where, FormatImportStats& stats)
      : format_(format), out_(out), where_(std::move(where)), stats_(stats) {}
  void OnRecord(const runtime::Record& record) override {
    ++stats_.records;
    format_.TranslateRecord(record, translation_);
    stats_.skipped += translation_.skipped;
    for (const auto& item : translation_.items) {
      if (item.event.empty()) {
        Problem(record, item.reason);
      } else {
        out_ << item.event << '\n';
        ++stats_.events;
      }
    }
  }
  void OnStray(const runtime::Record& text, std::string reason) override { Problem(text, reason); }

 private:
  void Problem(const runtime::Record& at, const std::string& why) {
    std::cerr << "cdr import: " << where_ << ":" << at.line << ": " << why << "; skipped\n";
    ++stats_.problems;
  }
  const runtime::InputFormat& format_;
  std::ostream& out_;
  std::string where_;
  FormatImportStats& stats_;
  runtime::Translation translation_;
};

}  // namespace

FormatImportStats ImportRecords(const runtime::InputFormat& format, std::istream& in, const std::string& where,
                                std::ostream& out) {
  FormatImportStats stats;
  Writer writer(format, out, where, stats);
  std::string error = runtime::SplitStream(format, runtime::StreamSource(in), writer);
  if (!error.empty()) {
    std::cerr << "cdr import: " << where << ": " << error << "\n";
    ++stats.problems;
  }
  return stats;
}

int ImportFormat(const std::string& name, const ImportOptions& o) {
  runtime::FormatOptions format_options;
  if (!o.timezone.empty()) {
    format_options.default_offset_minutes = runtime::ParseUtcOffset(o.timezone);
    if (!format_options.default_offset_minutes) {
      std::cerr << "cdr import: --timezone `" << o.timezone << "` is not an offset such as +01:00, -05:30 or Z\n";
      return kUsage;
    }
  }
  std::string error;
  std::unique_ptr<runtime::InputFormat> format = runtime::MakeInputFormat(name, format_options, error);
  if (!format) {
    std::cerr << "cdr import: " << error << "\n";
    return kUsage;
  }
  // In a directory: the files of the format's extensions, in name order.
  const std::vector<std::string_view> extensions = format->extensions();
  std::vector<fs::path> files;
  for (const std::string& path : o.paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) {
          found.push_back(e.path());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec) || path == "-") {
      files.push_back(path);
    } else {
      std::cerr << "cdr import: " << path << " is not a file or a directory\n";
      return kUsage;
    }
  }
  std::unique_ptr<runtime::OutputFile> file;
  std::ostream* out = OpenOutput(o.out, file, "cdr import");
  if (!out) return kUsage;
  FormatImportStats total;
  for (const fs::path& path : files) {
    std::ifstream in;
    if (path != "-") {
      in.open(path, std::ios::binary);
      if (!in) {
        std::cerr << "cdr import: cannot read " << path.string() << "\n";
        return kUsage;
      }
    }
    FormatImportStats s = ImportRecords(*format, path == "-" ? std::cin : in, path.string(), *out);
    total.records += s.records;
    total.skipped += s.skipped;
    total.events += s.events;
    total.problems += s.problems;
  }
  bool written = CloseOutput(out, file.get(), "cdr import");
  std::cerr << fmt::format("cdr import: {} files, {} records, {} events ({} parts with nothing to read skipped){}\n",
                           files.size(), total.records, total.events, total.skipped,
                           total.problems ? fmt::format(", {} problems reported above", total.problems) : "");
  return written ? kOk : kUsage;
}

}  // namespace cdr::driver
