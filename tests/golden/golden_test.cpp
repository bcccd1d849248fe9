// tests/golden/golden_test.cpp: golden-file tests of the front end.
//
// Each tests/golden/lint/NAME.cdr is linted on its own; the text diagnostics must equal
// NAME.expected exactly (lines, columns, carets, notes, fixes). A file expects errors
// exactly when its name starts with `fail_`. Every diagnostic kind must appear in some
// expected file. Files that parse are also formatted: the formatter must be idempotent
// and keep the syntax tree. Options for one file go on its first line:
//   // cdr-test: max-file-bytes=N max-diagnostics=N
// Set CDR_UPDATE_GOLDEN=1 to rewrite the expected files (then read the diff).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"
#include "tests/golden/golden_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(CDR_SOURCE_DIR) / "tests" / "golden" / "lint";

using cdr::golden::ExpectMatchesFile;
using cdr::golden::ReadAll;

// The stems of the .cdr files in a golden folder, sorted.
std::vector<std::string> Cases(const fs::path& dir = kDir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".cdr") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

cdr::driver::FrontendOptions OptionsFor(const std::string& text) {
  cdr::driver::FrontendOptions o;
  std::string first = text.substr(0, text.find('\n'));
  const std::string tag = "// cdr-test:";
  if (first.rfind(tag, 0) != 0) return o;
  std::istringstream words(first.substr(tag.size()));
  std::string w;
  while (words >> w) {
    auto eq = w.find('=');
    if (eq == std::string::npos) continue;
    size_t v = std::stoul(w.substr(eq + 1));
    if (w.substr(0, eq) == "max-file-bytes") o.max_file_bytes = v;
    if (w.substr(0, eq) == "max-diagnostics") o.max_diagnostics_per_file = v;
  }
  return o;
}

class GoldenLint : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLint, MatchesExpectedDiagnostics) {
  const std::string name = GetParam();
  fs::path file = kDir / (name + ".cdr");
  fs::path expected_file = kDir / (name + ".expected");
  // Run from the golden folder so file names in the output are stable.
  fs::path saved = fs::current_path();
  fs::current_path(kDir);
  std::string text = fs::exists(file) ? ReadAll(file) : "";
  cdr::driver::Frontend fe(OptionsFor(text));
  fe.Load({name + ".cdr"});
  fe.Check();
  fe.Lower();  // as `cdr lint` does
  fs::current_path(saved);
  std::string actual = cdr::diag::FormatText(fe.diags);

  bool expects_errors = name.rfind("fail_", 0) == 0;
  EXPECT_EQ(fe.diags.error_count() > 0, expects_errors)
      << name << ": the `fail_` prefix must be used exactly when errors are expected\n" << actual;

  ExpectMatchesFile(expected_file, actual);
}

// Property: formatting is idempotent and keeps the syntax tree, on every golden input that parses.
TEST_P(GoldenLint, FormatIsIdempotentAndKeepsMeaning) {
  const std::string name = GetParam();
  fs::path file = kDir / (name + ".cdr");
  if (!fs::is_regular_file(file)) GTEST_SKIP() << "not a regular file";
  std::string text = ReadAll(file);
  cdr::driver::Frontend fe(OptionsFor(text));
  fe.AddText(name, text);
  if (!fe.files[0].parsed_cleanly) GTEST_SKIP() << "does not parse (syntax errors expected)";
  std::string once = cdr::format::Format(fe.files[0], text);
  cdr::driver::Frontend fe2;
  fe2.AddText(name, once);
  ASSERT_TRUE(fe2.files[0].parsed_cleanly) << "formatted text does not parse:\n" << once;
  EXPECT_EQ(cdr::ast::Dump(fe2.files[0], false), cdr::ast::Dump(fe.files[0], false)) << once;
  std::string twice = cdr::format::Format(fe2.files[0], once);
  EXPECT_EQ(twice, once) << "formatting is not idempotent";
  // Every comment survives.
  EXPECT_EQ(fe2.files[0].comments.size(), fe.files[0].comments.size());
}

INSTANTIATE_TEST_SUITE_P(Lint, GoldenLint, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// AST dumps with source ranges: tests/golden/ast/NAME.cdr beside NAME.expected.
const fs::path kAstDir = fs::path(CDR_SOURCE_DIR) / "tests" / "golden" / "ast";

class GoldenAst : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenAst, DumpWithRangesMatches) {
  const std::string name = GetParam();
  std::string text = ReadAll(kAstDir / (name + ".cdr"));
  cdr::driver::Frontend fe;
  fe.AddText(name + ".cdr", text);
  ASSERT_TRUE(fe.files[0].parsed_cleanly) << cdr::diag::FormatText(fe.diags);
  std::string actual = cdr::ast::Dump(fe.files[0], true);
  ExpectMatchesFile(kAstDir / (name + ".expected"), actual);
}

INSTANTIATE_TEST_SUITE_P(Ast, GoldenAst, ::testing::ValuesIn(Cases(kAstDir)),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// IR listings: tests/golden/ir/NAME.cdr beside NAME.expected (`cdr ir`).
const fs::path kIrDir = fs::path(CDR_SOURCE_DIR) / "tests" / "golden" / "ir";

class GoldenIr : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenIr, ListingMatches) {
  const std::string name = GetParam();
  cdr::driver::Frontend fe;
  fe.AddText(name + ".cdr", ReadAll(kIrDir / (name + ".cdr")));
  fe.Check();
  ASSERT_TRUE(fe.Lower()) << cdr::diag::FormatText(fe.diags);
  EXPECT_TRUE(cdr::ir::Verify(fe.module).empty());
  std::string actual = cdr::ir::Print(fe.module);
  ExpectMatchesFile(kIrDir / (name + ".expected"), actual);
}

INSTANTIATE_TEST_SUITE_P(Ir, GoldenIr, ::testing::ValuesIn(Cases(kIrDir)),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// `cdr fmt`'s layout at its line width: tests/golden/fmt/NAME.cdr beside NAME.expected,
// the expected layout written by hand from the rules in docs/language.md ("Layout").
const fs::path kFmtDir = fs::path(CDR_SOURCE_DIR) / "tests" / "golden" / "fmt";

class GoldenFmt : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenFmt, LayoutMatches) {
  const std::string name = GetParam();
  std::string text = ReadAll(kFmtDir / (name + ".cdr"));
  cdr::driver::Frontend fe;
  fe.AddText(name + ".cdr", text);
  ASSERT_TRUE(fe.files[0].parsed_cleanly) << cdr::diag::FormatText(fe.diags);
  std::string actual = cdr::format::Format(fe.files[0], text);
  ExpectMatchesFile(kFmtDir / (name + ".expected"), actual);

  // The layout is a fixed point, and the text a rule's hash is taken of does not depend on it.
  cdr::driver::Frontend fe2;
  fe2.AddText(name + ".cdr", actual);
  ASSERT_TRUE(fe2.files[0].parsed_cleanly) << actual;
  EXPECT_EQ(cdr::format::Format(fe2.files[0], actual), actual);
  ASSERT_EQ(fe.files[0].decls.size(), fe2.files[0].decls.size());
  for (size_t i = 0; i < fe.files[0].decls.size(); ++i) {
    if (!fe.files[0].decls[i].rule) continue;
    EXPECT_EQ(cdr::format::FormatRule(*fe2.files[0].decls[i].rule), cdr::format::FormatRule(*fe.files[0].decls[i].rule));
  }
}

INSTANTIATE_TEST_SUITE_P(Fmt, GoldenFmt, ::testing::ValuesIn(Cases(kFmtDir)),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The hashed text has no width: a table stays on one line, a long chain too; only an else-if
// chain breaks (as it always has, so that no approved hash changed with the width).
TEST(GoldenFmt, HashedTextIgnoresTheWidth) {
  std::string text = ReadAll(kFmtDir / "layout.cdr");
  cdr::driver::Frontend fe;
  fe.AddText("layout.cdr", text);
  const cdr::ast::Rule* rule = nullptr;
  for (const auto& d : fe.files[0].decls) {
    if (d.rule) rule = d.rule.get();
  }
  ASSERT_NE(rule, nullptr);
  std::string hashed = cdr::format::FormatRule(*rule);
  EXPECT_NE(hashed.find("\n  let band = case when g < 54 'mg/dL' then 3 when g < 70 'mg/dL' then 2 else 0 end\n"),
            std::string::npos)
      << hashed;
  EXPECT_NE(hashed.find("\n  let any_high = g > 180 'mg/dL' or h > 130 '/min' or g < 54 'mg/dL' or h < 40 '/min' or "
                        "exists(culture within 24h)\n"),
            std::string::npos)
      << hashed;
  EXPECT_NE(hashed.find("\n  let grade = if g > 400 'mg/dL' then 3\n    else if g > 250 'mg/dL' then 2\n    else 0\n"),
            std::string::npos)
      << hashed;
  EXPECT_EQ(hashed.find("status"), std::string::npos);
}

TEST(GoldenCoverage, EveryDiagnosticKindHasAGoldenTest) {
  std::set<std::string> seen;
  for (const auto& e : fs::directory_iterator(kDir)) {
    if (e.path().extension() != ".expected") continue;
    std::string text = ReadAll(e.path());
    for (const auto& k : cdr::diag::AllKinds()) {
      if (text.find("[" + std::string(k.name) + "]\n") != std::string::npos) seen.insert(std::string(k.name));
    }
  }
  for (const auto& k : cdr::diag::AllKinds()) {
    EXPECT_TRUE(seen.count(std::string(k.name))) << "no golden test produces `" << k.name << "`";
  }
}

}  // namespace
