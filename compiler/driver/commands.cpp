// compiler/driver/commands.cpp: `cdr lint`, `cdr fmt` and `cdr ast`.
#include "compiler/driver/commands.h"
#include "compiler/driver/diff.h"

#include <fstream>
#include <iostream>

#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"
#include "compiler/syntax/parse.h"

namespace cdr::driver {

const char* Version() { return "0.1.0"; }

int Lint(const LintOptions& o) {
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
