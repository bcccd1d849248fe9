// compiler/diag/diagnostic.h: diagnostics (kind, range, notes, fix-its) and the engine that collects them.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/source/source.h"

namespace cdr::diag {

enum class Severity { Error, Warning, Note };

/// Every diagnostic kind; the list lives in kinds.def so a switch that misses one fails to compile.
enum class Kind {
#define DIAG(id, name, severity, explanation) id,
#include "compiler/diag/kinds.def"
};

/// Every message (a wording of a kind, with typed arguments): kinds.def's MSG rows.
enum class Msg {
#define MSG(id, kind, format, params) id,
#include "compiler/diag/kinds.def"
};

struct KindInfo {
  Kind kind;
  std::string_view name;
  Severity severity;
  std::string_view explanation;
};

struct MsgInfo {
  Msg msg;
  Kind kind;
  std::string_view format;
};

const KindInfo& Info(Kind kind);
const MsgInfo& Info(Msg msg);
/// All kinds (messages) in declaration order.
const std::vector<KindInfo>& AllKinds();
const std::vector<MsgInfo>& AllMessages();
std::string_view SeverityName(Severity s);

namespace detail {

// The replacement fields of a format (`{}`, `{:02X}`; `{{` is a brace), at compile time.
constexpr size_t Fields(std::string_view f) {
  size_t n = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '{' && i + 1 < f.size() && f[i + 1] == '{') {
      ++i;
    } else if (f[i] == '{') {
      ++n;
    }
  }
  return n;
}

// A message's argument types, P...: Format takes exactly those (converted as a call
// converts), with the format checked against them by fmt at compile time.
template <typename... P>
struct Params {
  static constexpr size_t kCount = sizeof...(P);
  static std::string Format(fmt::format_string<P...> f, P... args) { return fmt::format(f, std::move(args)...); }
};

template <Msg M>
struct MsgTraits;

#define DIAG_PARAMS(...) __VA_ARGS__
#define MSG(id, kind_, format_, params)                                                      \
  template <>                                                                                \
  struct MsgTraits<Msg::id> : Params<DIAG_PARAMS params> {                                   \
    static constexpr Kind kKind = Kind::kind_;                                               \
    static constexpr std::string_view kFormat = format_;                                     \
    static constexpr fmt::format_string<DIAG_PARAMS params> kChecked{format_};               \
    static_assert(Fields(kFormat) == kCount, "kinds.def: " #id " has as many fields as types"); \
    static_assert(kFormat != "{}", "kinds.def: " #id " needs words of its own");             \
  };
#include "compiler/diag/kinds.def"
#undef DIAG_PARAMS

}  // namespace detail

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

  /// Reports message `M` at `range`; its arguments are checked against kinds.def's types
  /// when this compiles. Returns the diagnostic (to attach notes and fixes) or nullptr
  /// when over the limit.
  template <Msg M, typename... Args>
  Diagnostic* Emit(source::SourceRange range, Args&&... args) {
    using T = detail::MsgTraits<M>;
    return Add(Diagnostic{T::kKind, Info(T::kKind).severity, range, T::Format(T::kChecked, std::forward<Args>(args)...),
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
