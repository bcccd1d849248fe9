// compiler/ast/ast.h: the syntax tree of .cdr files, with 1-based source ranges on every node.
#pragma once

#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/source/source.h"

namespace cdr::ast {

using source::SourceRange;

/// Expression node kinds; see exprs.def.
enum class ExprKind {
#define EXPR(id, name) id,
#include "compiler/ast/exprs.def"
#undef EXPR
};

const char* ExprKindName(ExprKind kind);

/// The operator of an operator node or a band bound; see operators.def.
enum class Operator : uint8_t {
  None,  // not an operator node
#define OPERATOR(id, spelling) id,
#include "compiler/ast/operators.def"
#undef OPERATOR
};

/// How an operator is written (`<=`, `and`, `predecessor`); empty for None.
const char* Spelling(Operator op);
/// The operator written `text`, or None.
Operator OperatorNamed(std::string_view text);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// A literal inside a band condition or a test step: a signed number with an
/// optional unit, a single-quoted text (enum member), or a boolean.
struct PlainValue {
  enum class Kind { Number, Text, Bool } kind = Kind::Number;
  SourceRange range;
  std::string text;  // the number as written (with its sign), the text without quotes, `true`/`false`
  std::string unit;  // for numbers: the UCUM unit without quotes, or empty
  SourceRange unit_range;
};

struct BandBound {
  Operator op = Operator::None;  // Less, LessEqual, Greater, GreaterEqual
  PlainValue value;
};

struct BandRow {
  enum class Kind { Range, Bounds, Exact, Else } kind = Kind::Exact;
  SourceRange range;  // the condition (or `else`)
  PlainValue low, high;          // Range: low .. high; Exact: low
  std::vector<BandBound> bounds; // Bounds: one or two
  ExprPtr value;
};

struct CallArg {
  ExprPtr value;
  ExprPtr window;  // `within` duration, or null
};

/// One expression node. Fields are used according to `kind` (see exprs.def).
struct Expr {
  ExprKind kind = ExprKind::Error;
  SourceRange range;
  Operator op = Operator::None;  // operator nodes
  std::string text;    // a literal as written, or a name (see exprs.def)
  std::string unit;    // Quantity literal: UCUM unit or temporal word; Duration: the shorthand suffix
  bool quoted_unit = false;  // Quantity literal: unit written as '...'
  bool negated = false;      // Is: `is not`
  std::string name2;   // Sequence: the second signal
  SourceRange name_range, name2_range;
  std::vector<ExprPtr> kids;
  std::vector<CallArg> args;  // Call
  std::vector<BandRow> rows;  // Bands
  bool has_subject = false;   // Case: `case X when ...`
};

struct CodeGroup {
  SourceRange range;
  std::string system;
  std::vector<std::string> codes;  // raw, with quotes
};

struct ValueType {
  enum class Kind { None, Quantity, Boolean, Integer, Decimal, Text, Code, Enum } kind = Kind::None;
  SourceRange range;
  std::string unit;  // Quantity, without quotes
  SourceRange unit_range;
  std::string valueset;  // Code: `in valueset NAME`, or empty
  std::vector<std::string> members;  // Enum
  std::vector<SourceRange> member_ranges;
};

struct Conversion {
  SourceRange range;
  std::string unit;
  SourceRange unit_range;
  std::string factor;  // as written
  SourceRange factor_range;
};

/// A `signal` or `event` in a schema.
struct SignalDecl {
  bool is_event = false;
  SourceRange range;
  std::string name;
  SourceRange name_range;
  ValueType type;
  std::vector<CodeGroup> codes;
  bool has_plausible = false;
  std::string plausible_low, plausible_high;
  /// `plausible LOW .. HIGH keep`: values outside are used (and flagged), not refused.
  bool keep_implausible = false;
  SourceRange plausible_range;
  std::vector<Conversion> conversions;
  /// `from KIND`: the kind of record its codes come from (`order`); empty: observations
  /// and administrations.
  std::string kind;
  SourceRange kind_range;
};

struct ValuesetDecl {
  SourceRange range;
  std::string name;
  SourceRange name_range;
  std::vector<CodeGroup> codes;
};

struct SchemaItem {
  SourceRange range;
  std::unique_ptr<SignalDecl> signal;    // signal or event
  std::unique_ptr<ValuesetDecl> valueset;
};

struct Schema {
  SourceRange range;
  std::string name;
  SourceRange name_range;
  std::string version;  // raw, with quotes, or empty
  SourceRange version_range;
  std::vector<SchemaItem> items;
};

struct RuleItem {
  enum class Kind { Title, Owner, Status, Cites, Approvals, Uses, Let, When, Suppress, Allow } kind;
  SourceRange range;
  std::vector<std::string> strings;        // Title/Owner/Cites/Approvals: raw strings
  std::vector<std::string> names;          // Status, Uses, Let (the name), When (severity), Allow (the finding)
  std::vector<SourceRange> name_ranges;
  std::vector<SourceRange> string_ranges;
  ExprPtr expr;                            // Let, When, Suppress
  std::string message;                     // When: raw, with quotes
  SourceRange message_range;
};

/// The keyword that starts a rule item (`title`, `let`, `allow`).
const char* Keyword(RuleItem::Kind kind);
/// Every rule item's keyword, in the order of RuleItem::Kind.
std::vector<std::string> RuleItemKeywords();

struct Rule {
  SourceRange range;
  std::string name;
  SourceRange name_range;
  std::string version;  // raw, with quotes, or empty
  SourceRange version_range;
  std::vector<RuleItem> items;
  bool synthetic = false;  // made by the parser around a `cdr eval` expression: no metadata
};

struct TestStep {
  enum class Kind { Given, ExpectAlert, ExpectNoAlert, ExpectValue } kind = Kind::Given;
  SourceRange range;
  std::string signal;  // Given: the signal; ExpectValue: the rule's `let`
  SourceRange signal_range;
  std::optional<PlainValue> value;  // Given, ExpectValue (none: `null`)
  ExprPtr time;
  ExprPtr recorded;
  std::string id;      // raw, or empty
  std::string status;  // or empty
  SourceRange status_range;
  std::string severity;  // ExpectAlert, or empty
  SourceRange severity_range;
};

struct Test {
  SourceRange range;
  std::string name;  // raw, with quotes
  std::string target;
  SourceRange target_range;
  std::vector<TestStep> steps;
};

struct Ruleset {
  SourceRange range;
  std::string name;
  SourceRange name_range;
  ExprPtr retention;
  // The governance policy (docs/governance.md), when declared.
  std::string live;  // `live STATUS`, or empty
  SourceRange live_range;
  std::string approvals;  // `approvals N`: the count as written, or empty
  SourceRange approvals_range;
  std::vector<std::string> roles;  // `including "ROLE", ...`: raw, with quotes
  std::vector<SourceRange> role_ranges;
  bool signed_approvals = false;  // `signed`
};

struct Decl {
  SourceRange range;
  std::unique_ptr<Schema> schema;
  std::unique_ptr<Rule> rule;
  std::unique_ptr<Test> test;
  std::unique_ptr<Ruleset> ruleset;
};

/// A comment kept for the formatter.
struct Comment {
  SourceRange range;
  std::string text;
};

struct File {
  source::FileId file;
  std::vector<Decl> decls;
  std::vector<Comment> comments;
  bool parsed_cleanly = false;  // no syntax errors
};

/// An S-expression dump of the tree; with `with_ranges`, each node shows its range.
/// The formatter's property test compares dumps without ranges.
std::string Dump(const File& file, bool with_ranges);

/// Decodes a raw "..." or '...' literal (backslash escapes).
std::string Unquote(const std::string& raw);

}  // namespace cdr::ast
