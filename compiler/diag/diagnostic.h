// compiler/diag/diagnostic.h: diagnostics (kind, range, notes, fix-its) and the engine that collects them.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "compiler/source/source.h"

namespace cdr::diag {

enum class Severity { Error, Warning, Note };

/// Every diagnostic kind; the list lives in kinds.def so a switch that misses one fails to compile.
enum class Kind {
#define DIAG(id, name, severity, format) id,
#include "compiler/diag/kinds.def"
#undef DIAG
};

struct KindInfo {
  Kind kind;
  std::string_view name;
  Severity severity;
  std::string_view format;
};

const KindInfo& Info(Kind kind);
/// All kinds in declaration order.
const std::vector<KindInfo>& AllKinds();
std::string_view SeverityName(Severity s);

struct Note {
  source::SourceRange range;  // may be invalid: a note without a location
  std::string message;
};

/// A replacement of the text in `range` by `replacement` (an insertion when the range is empty).
struct FixIt {
  source::SourceRange range;
  std::string replacement;
};

struct Diagnostic {
  Kind kind;
  Severity severity;
  source::SourceRange range;
  std::string message;
  std::vector<Note> notes;
  std::vector<FixIt> fixes;
};

/// Collects diagnostics. Errors are collected, not thrown: a stage reports and goes on.
/// At most `per_file_limit` diagnostics are kept per file; the next one becomes a
/// single too-many-errors diagnostic.
class DiagnosticEngine {
 public:
  explicit DiagnosticEngine(const source::SourceManager& sources, size_t per_file_limit = 100)
      : sources_(sources), per_file_limit_(per_file_limit) {}

  template <typename... Args>
  Diagnostic* Emit(Kind kind, source::SourceRange range, Args&&... args) {
    const KindInfo& info = Info(kind);
    return Add(Diagnostic{kind, info.severity, range,
                          fmt::format(fmt::runtime(info.format), std::forward<Args>(args)...),
                          {}, {}});
  }

  /// Adds a diagnostic; returns it (to attach notes and fixes) or nullptr when over the limit.
  Diagnostic* Add(Diagnostic d);

  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  size_t error_count() const;
  size_t warning_count() const;
  /// Errors in one file (used to skip later stages on a file that did not parse).
  size_t ErrorsIn(source::FileId file) const;
  /// Sorts by file, line and column, keeping emission order for ties.
  void Sort();
  const source::SourceManager& sources() const { return sources_; }

 private:
  const source::SourceManager& sources_;
  size_t per_file_limit_;
  std::vector<Diagnostic> diags_;
  std::vector<size_t> per_file_count_;
  std::vector<bool> per_file_capped_;
};

/// `file:line:col: severity: message [kind]`, the source line, a caret and tildes under
/// the range, then notes and fix-its.
std::string FormatText(const DiagnosticEngine& engine, bool color = false);
/// One JSON array, as docs/cli.md describes it.
std::string FormatJson(const DiagnosticEngine& engine);
/// A SARIF 2.1.0 log.
std::string FormatSarif(const DiagnosticEngine& engine, std::string_view tool_version);

}  // namespace cdr::diag
