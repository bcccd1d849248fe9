// compiler/driver/commands.h: the `cdr` subcommands of the front end.
#pragma once

#include <string>
#include <vector>

namespace cdr::driver {

/// Exit codes shared by the commands (docs/cli.md).
enum ExitCode : int { kOk = 0, kFailed = 1, kUsage = 2 };

struct LintOptions {
  std::vector<std::string> paths;
  std::string format = "text";  // text | json | sarif
  bool werror = false;
  bool color = false;
};
int Lint(const LintOptions& options);

struct FmtOptions {
  std::vector<std::string> paths;
  bool check = false;
};
int Fmt(const FmtOptions& options);

/// Prints the IR of the rules in `paths` (with their schemas).
int Ir(const std::vector<std::string>& paths);

/// Prints the syntax tree of one file (`--ranges` adds source ranges).
int Ast(const std::string& path, bool ranges);

/// The version printed by `cdr --version` and written into SARIF logs.
const char* Version();

}  // namespace cdr::driver
