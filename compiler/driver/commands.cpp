// compiler/driver/commands.cpp: `cdr lint`, `cdr fmt` and `cdr ast`.
#include "compiler/driver/commands.h"
#include "compiler/driver/diff.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"
#include "compiler/syntax/parse.h"

namespace cdr::driver {

const char* Version() { return "0.1.0"; }

namespace {

// `cdr lint --fix`: applies every fix-it of the diagnostics to its file (the first of two
// that overlap), writes the files changed and shows what changed; false when a file
// cannot be written.
bool ApplyFixes(const Frontend& fe) {
  struct Edit {
    size_t begin, end;
    std::string text;
  };
  std::map<size_t, std::vector<Edit>> edits;  // by file index
  for (const auto& d : fe.diags.diagnostics()) {
    for (const auto& f : d.fixes) {
      if (!f.range.valid()) continue;
      const source::SourceFile& src = fe.sources.Get(f.range.file);
      size_t b = src.Offset(f.range.line, f.range.column), e = src.Offset(f.range.end_line, f.range.end_column);
      if (b == std::string::npos || e == std::string::npos || e < b) continue;
      edits[static_cast<size_t>(f.range.file.index)].push_back({b, e, f.replacement});
    }
  }
  bool ok = true;
  for (auto& [file, list] : edits) {
    const source::SourceFile& src = fe.sources.Get(source::FileId{static_cast<int32_t>(file)});
    std::stable_sort(list.begin(), list.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    std::string out;
    size_t at = 0, applied = 0;
    for (const Edit& e : list) {
      if (e.begin < at) continue;  // overlaps one applied: its diagnostic is reported again
      out += src.text().substr(at, e.begin - at) + e.text;
      at = e.end;
      ++applied;
    }
    out += src.text().substr(at);
    if (out == src.text()) continue;
    std::ofstream w(src.name(), std::ios::binary | std::ios::trunc);
    w << out;
    w.flush();
    if (!w) {
      std::cerr << "cdr lint: cannot write " << src.name() << "\n";
      ok = false;
      continue;
    }
    std::cout << fmt::format("{}: {} fix{} applied\n", src.name(), applied, applied == 1 ? "" : "es")
              << "--- " << src.name() << "\n+++ " << src.name() << " (fixed)\n" << LineDiff(src.text(), out);
  }
  return ok;
}

}  // namespace

int Lint(const LintOptions& o) {
  if (o.fix) {
    Frontend fe;
    std::string error;
    if (!fe.Compile(o.paths, error)) {
      std::cerr << "cdr lint: " << error << "\n";
      return kUsage;
    }
    if (!ApplyFixes(fe)) return kUsage;
    LintOptions again = o;
    again.fix = false;
    return Lint(again);  // what is left, checked again
  }
  Frontend fe;
  std::string error;
  // Compile lowers too: a rule that checks but cannot run is an error.
  if (!fe.Compile(o.paths, error)) {
    std::cerr << "cdr lint: " << error << "\n";
    return kUsage;
  }
  if (o.format == "json") {
    std::cout << diag::FormatJson(fe.diags);
  } else if (o.format == "sarif") {
    std::cout << diag::FormatSarif(fe.diags, Version());
  } else {
    std::cout << diag::FormatText(fe.diags, o.color);
    size_t e = fe.diags.error_count(), w = fe.diags.warning_count();
    if (e + w > 0) {
      std::cerr << fmt::format("{} error{}, {} warning{} in {} file{}\n", e, e == 1 ? "" : "s", w, w == 1 ? "" : "s",
                               fe.files.size(), fe.files.size() == 1 ? "" : "s");
    }
  }
  if (fe.io_error) return kUsage;
  if (fe.diags.error_count() > 0) return kFailed;
  if (o.werror && fe.diags.warning_count() > 0) return kFailed;
  return kOk;
}

int Fmt(const FmtOptions& o) {
  std::vector<std::string> files;
  std::string error;
  if (!CollectFiles(o.paths, files, error)) {
    std::cerr << "cdr fmt: " << error << "\n";
    return kUsage;
  }
  int status = kOk;
  for (const auto& path : files) {
    Frontend fe;
    fe.Load({path});
    if (fe.io_error || fe.files.empty() || !fe.files[0].parsed_cleanly) {
      fe.diags.Sort();
      std::cerr << diag::FormatText(fe.diags);
      std::cerr << "cdr fmt: " << path << " has errors; not formatted\n";
      status = kUsage;
      continue;
    }
    const std::string& original = fe.sources.Get(fe.files[0].file).text();
    std::string formatted = format::Format(fe.files[0], original);
    // Never write a file whose meaning changed: re-parse and compare the trees.
    Frontend again;
    again.AddText(path, formatted);
    if (!again.files[0].parsed_cleanly ||
        ast::Dump(again.files[0], false) != ast::Dump(fe.files[0], false)) {
      std::cerr << "cdr fmt: internal error: formatting " << path << " would change its meaning; left unchanged\n";
      status = kUsage;
      continue;
    }
    if (formatted == original) continue;
    if (o.diff) {
      std::cout << "--- " << path << "\n+++ " << path << " (cdr fmt)\n" << LineDiff(original, formatted);
      if (status == kOk) status = kFailed;
      continue;
    }
    if (o.check) {
      std::cout << path << ": would reformat\n";
      if (status == kOk) status = kFailed;
      continue;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << formatted;
    if (!out) {
      std::cerr << "cdr fmt: cannot write " << path << "\n";
      status = kUsage;
      continue;
    }
    std::cout << path << ": formatted\n";
  }
  return status;
}

std::ostream* OpenOutput(const std::string& path, std::unique_ptr<runtime::OutputFile>& file, const char* command) {
  if (path.empty() || path == "-") return &std::cout;
  std::string error;
  file = runtime::OutputFile::Open(path, 0600, error);  // events hold patient data
  if (!file || !file->Truncate(error)) {
    std::cerr << command << ": " << error << "\n";
    return nullptr;
  }
  return &file->stream();
}

bool CloseOutput(std::ostream* out, runtime::OutputFile* file, const char* command) {
  out->flush();
  if (file && file->error()) {
    std::cerr << command << ": " << file->ErrorText() << "\n";
    return false;
  }
  if (!*out) std::cerr << command << ": cannot write stdout\n";
  return static_cast<bool>(*out);
}

int CompileOrReport(Frontend& fe, const std::vector<std::string>& paths, const char* command) {
  std::string error;
  if (!fe.Compile(paths, error)) {
    std::cerr << command << ": " << error << "\n";
    return kUsage;
  }
  if (fe.diags.error_count() == 0) return kOk;
  std::cerr << diag::FormatText(fe.diags);
  std::cerr << command << ": the rules have errors\n";
  return fe.io_error ? kUsage : kFailed;
}

int Ir(const std::vector<std::string>& paths) {
  Frontend fe;
  if (int status = CompileOrReport(fe, paths, "cdr ir"); status != kOk) return status;
  std::cout << ir::Print(fe.module);
  return kOk;
}

int Ast(const std::string& path, bool ranges) {
  Frontend fe;
  fe.Load({path});
  fe.diags.Sort();
  std::cerr << diag::FormatText(fe.diags);
  if (fe.io_error) return kUsage;
  std::cout << ast::Dump(fe.files[0], ranges);
  return fe.diags.error_count() > 0 ? kFailed : kOk;
}

}  // namespace cdr::driver
