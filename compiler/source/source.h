// compiler/source/source.h: source files and 1-based line/column ranges.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cdr::source {

/// Identifies a file held by a SourceManager.
struct FileId {
  int32_t index = -1;
  bool valid() const { return index >= 0; }
  friend bool operator==(FileId, FileId) = default;
};

/// A range in one file. Lines and columns are 1-based; columns count Unicode
/// code points; the end is exclusive.
struct SourceRange {
  FileId file;
  int32_t line = 0;
  int32_t column = 0;
  int32_t end_line = 0;
  int32_t end_column = 0;
  bool valid() const { return file.valid() && line > 0; }
};

/// One source file: its name as given on the command line and its text.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  /// The text of line `line` (1-based) without its newline.
  std::string_view Line(int32_t line) const;
  int32_t line_count() const { return static_cast<int32_t>(line_starts_.size()); }
  /// The byte offset in text() of a 1-based line and column; npos when it is not in the file.
  size_t Offset(int32_t line, int32_t column) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

/// Owns every file of one compilation.
class SourceManager {
 public:
  FileId Add(std::string name, std::string text);
  const SourceFile& Get(FileId id) const { return *files_.at(static_cast<size_t>(id.index)); }
  size_t size() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

/// Counts the Unicode code points of UTF-8 text (continuation bytes are skipped).
int32_t CodePoints(std::string_view utf8);
/// The byte offset in one line of UTF-8 text of its 1-based code-point column `column` (the
/// line's size for the column just past its end); npos for a column further out.
size_t ColumnOffset(std::string_view line, int32_t column);

}  // namespace cdr::source
