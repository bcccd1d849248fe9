// compiler/driver/frontend.h: loads .cdr files and runs the front end over them.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"
#include "compiler/ir/ir.h"
#include "compiler/sema/check.h"

namespace cdr::driver {

/// Expands files and directories (recursively, `.cdr` files, sorted) into file paths.
/// Returns false and sets `error` when a path does not exist.
bool CollectFiles(const std::vector<std::string>& paths, std::vector<std::string>& out, std::string& error);

/// Limits of one front-end run (docs/robustness.md).
struct FrontendOptions {
  size_t max_file_bytes = 1 << 20;
  size_t max_diagnostics_per_file = 100;
};

/// One run of the front end over a set of files.
struct Frontend {
  explicit Frontend(FrontendOptions options = {}) : options(options), diags(sources, options.max_diagnostics_per_file) {}
  FrontendOptions options;
  source::SourceManager sources;
  diag::DiagnosticEngine diags;
  std::vector<ast::File> files;
  sema::Model model;
  bool io_error = false;
  /// Rules Lower leaves out (those a deployment does not run: governance.h), with the
  /// derived signals only they compute.
  std::set<std::string> excluded;

  /// Reads and parses each path; read failures become io-error diagnostics.
  void Load(const std::vector<std::string>& paths);
  /// Adds one file from memory (tests, stdin).
  void AddText(std::string name, std::string text);
  /// Adds one closed expression (`cdr eval`): a synthetic rule `eval` with `let value`.
  void AddExpression(std::string name, std::string text);
  /// Checks and lints every file that was loaded.
  void Check();
  /// Lowers the checked rules to IR (only when there are no errors); false on errors.
  bool Lower();
  /// The whole front end over files and directories: collect, load, check, lower.
  /// Returns false when a path does not exist (with `error` set); diagnostics are in `diags`.
  bool Compile(const std::vector<std::string>& paths, std::string& error);
  ir::Module module;
};

}  // namespace cdr::driver
