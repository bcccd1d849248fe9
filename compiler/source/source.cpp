// compiler/source/source.cpp: source files and line tables.
#include "compiler/source/source.h"

namespace cdr::source {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::string_view SourceFile::Line(int32_t line) const {
  if (line < 1 || line > line_count()) return {};
  size_t begin = line_starts_[static_cast<size_t>(line - 1)];
  size_t end = static_cast<size_t>(line) < line_starts_.size()
                   ? line_starts_[static_cast<size_t>(line)] - 1
                   : text_.size();
  std::string_view s(text_.data() + begin, end - begin);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

size_t SourceFile::Offset(int32_t line, int32_t column) const {
  if (line < 1 || line > line_count()) return std::string::npos;
  size_t at = ColumnOffset(Line(line), column);
  return at == std::string::npos ? at : line_starts_[static_cast<size_t>(line - 1)] + at;
}

FileId SourceManager::Add(std::string name, std::string text) {
  files_.push_back(std::make_unique<SourceFile>(std::move(name), std::move(text)));
  return FileId{static_cast<int32_t>(files_.size() - 1)};
}

int32_t CodePoints(std::string_view utf8) {
  int32_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

size_t ColumnOffset(std::string_view line, int32_t column) {
  size_t at = 0;
  for (int32_t c = 1; c < column; ++c) {
    if (at >= line.size()) return std::string::npos;
    ++at;
    while (at < line.size() && (static_cast<unsigned char>(line[at]) & 0xC0) == 0x80) ++at;  // continuation bytes
  }
  return at;
}

}  // namespace cdr::source
