// compiler/syntax/parse.h: text to AST. The only folder that includes ANTLR headers.
#pragma once

#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostic.h"

namespace cdr::syntax {

/// Limits that keep the front end safe on any input (docs/robustness.md).
inline constexpr size_t kMaxFileBytes = 1 << 20;
inline constexpr int kMaxNesting = 200;

/// Parses one file. Always returns a tree: after a syntax error the tree holds
/// what could be recovered and `parsed_cleanly` is false. Never throws.
ast::File Parse(const source::SourceManager& sources, source::FileId file, diag::DiagnosticEngine& diags,
                size_t max_file_bytes = kMaxFileBytes);

/// Parses a file that holds one closed expression (`cdr eval`). The tree is a synthetic
/// rule `eval` (ast::Rule::synthetic) whose one `let value` is the expression.
ast::File ParseExpression(const source::SourceManager& sources, source::FileId file, diag::DiagnosticEngine& diags);

/// A token as an editor colours it (the language server's semantic tokens).
struct Token {
  enum class Kind { Keyword, Name, Number, Text, DateTime, Comment, Punctuation } kind = Kind::Name;
  source::SourceRange range;
};

/// The tokens of one file, comments included, invalid characters left out. Never throws;
/// a file over the size limit has none.
std::vector<Token> Lex(const source::SourceManager& sources, source::FileId file);

/// The words of the grammar (`rule`, `when`, `within`, ...), sorted: editor completion.
const std::vector<std::string>& Keywords();

}  // namespace cdr::syntax
