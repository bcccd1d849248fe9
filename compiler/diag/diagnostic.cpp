// compiler/diag/diagnostic.cpp: the diagnostic table and engine.
#include "compiler/diag/diagnostic.h"

#include <algorithm>

namespace cdr::diag {

const std::vector<KindInfo>& AllKinds() {
  static const std::vector<KindInfo> kinds = {
#define DIAG(id, name, severity, explanation) KindInfo{Kind::id, name, Severity::severity, explanation},
#include "compiler/diag/kinds.def"
  };
  return kinds;
}

const std::vector<MsgInfo>& AllMessages() {
  static const std::vector<MsgInfo> messages = {
#define MSG(id, kind, format, params) MsgInfo{Msg::id, Kind::kind, format},
#include "compiler/diag/kinds.def"
  };
  return messages;
}

const KindInfo& Info(Kind kind) { return AllKinds()[static_cast<size_t>(kind)]; }
const MsgInfo& Info(Msg msg) { return AllMessages()[static_cast<size_t>(msg)]; }

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::Error:
      return "error";
    case Severity::Warning:
      return "warning";
    case Severity::Note:
      return "note";
  }
  return "error";
}

Diagnostic* DiagnosticEngine::Add(Diagnostic d) {
  size_t slot = d.range.file.valid() ? static_cast<size_t>(d.range.file.index) + 1 : 0;
  if (per_file_count_.size() <= slot) {
    per_file_count_.resize(slot + 1, 0);
    per_file_capped_.resize(slot + 1, false);
  }
  if (per_file_count_[slot] >= per_file_limit_) {
    if (!per_file_capped_[slot]) {
      per_file_capped_[slot] = true;
      using T = detail::MsgTraits<Msg::TooManyErrors>;
      diags_.push_back(Diagnostic{T::kKind, Info(T::kKind).severity, d.range,
                                  T::Format(T::kChecked, per_file_limit_), {}, {}});
    }
    return nullptr;
  }
  ++per_file_count_[slot];
  diags_.push_back(std::move(d));
  return &diags_.back();
}

size_t DiagnosticEngine::error_count() const {
  return static_cast<size_t>(std::count_if(diags_.begin(), diags_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::Error;
  }));
}

size_t DiagnosticEngine::warning_count() const {
  return static_cast<size_t>(std::count_if(diags_.begin(), diags_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::Warning;
  }));
}

size_t DiagnosticEngine::ErrorsIn(source::FileId file) const {
  return static_cast<size_t>(std::count_if(diags_.begin(), diags_.end(), [&](const Diagnostic& d) {
    return d.severity == Severity::Error && d.range.file == file;
  }));
}

void DiagnosticEngine::Sort() {
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    auto key = [](const Diagnostic& d) {
      return std::tuple(d.range.file.index, d.range.line, d.range.column);
    };
    return key(a) < key(b);
  });
}

}  // namespace cdr::diag
