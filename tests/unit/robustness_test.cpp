// tests/unit/robustness_test.cpp: the front end on mutated and hostile input. Every
// mutation of every golden input and shipped rule must give diagnostics (or none), never
// an exception or a crash; a mutant that still parses must format idempotently with the
// same syntax tree. Deterministic: a fixed seed per file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> Inputs() {
  std::vector<fs::path> out;
  for (const char* dir : {"tests/golden/lint", "rules"}) {
    for (const auto& e : fs::recursive_directory_iterator(fs::path(CDR_SOURCE_DIR) / dir)) {
      if (e.is_regular_file() && e.path().extension() == ".cdr") out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<std::string> kDictionary = {
    "rule ", "schema ", "signal ", "let ", "when ", "alert ", "bands ", "{", "}", "(", ")", ";", ":",
    "..", " and ", " or ", " not ", "??", " for ", " within ", " then ", " no ", "if ", " else ", "case ",
    " end", "'mm[Hg]'", "'Cel'", "4h", "0.3", "-", "\"", "'", "{x}", "@2020-01-01T00:00:00Z", "\n", "\xff",
    "last(", "count(", "test \"t\" for r {", "given ", "expect alert at ", "//", "/*", "*/"};

std::string Mutate(const std::string& text, std::mt19937& rng) {
  std::string s = text;
  std::uniform_int_distribution<int> op(0, 4);
  int n = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < n; ++k) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (op(rng)) {
      case 0:  // flip a byte
        if (!s.empty()) s[pos % s.size()] = static_cast<char>(rng() % 256);
        break;
      case 1:  // insert a token of the language
        s.insert(pos, kDictionary[rng() % kDictionary.size()]);
        break;
      case 2: {  // delete a range
        size_t len = rng() % 16;
        if (pos < s.size()) s.erase(pos, len);
        break;
      }
      case 3: {  // duplicate a range
        size_t len = rng() % 64;
        if (pos < s.size()) s.insert(pos, s.substr(pos, len));
        break;
      }
      case 4:  // truncate
        s.resize(pos);
        break;
    }
  }
  return s;
}

// CDR_ROBUSTNESS_ITERATIONS raises the mutants per file for a longer local run.
int Iterations() {
  const char* v = std::getenv("CDR_ROBUSTNESS_ITERATIONS");
  return v ? std::max(1, std::atoi(v)) : 120;
}

TEST(Robustness, MutatedInputsNeverThrowAndFormatStaysExact) {
  int parsed = 0, total = 0;
  for (const fs::path& p : Inputs()) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(p.filename().string())));
    for (int i = 0; i < Iterations(); ++i) {
      std::string mutant = Mutate(text, rng);
      ++total;
      cdr::driver::Frontend fe;
      ASSERT_NO_THROW({
        fe.AddText("mutant.cdr", mutant);
        fe.Check();
        (void)cdr::diag::FormatText(fe.diags);
        (void)cdr::diag::FormatJson(fe.diags);
        (void)cdr::diag::FormatSarif(fe.diags, "test");
      }) << p << " mutant " << i;
      if (!fe.files[0].parsed_cleanly) continue;
      ++parsed;
      std::string once = cdr::format::Format(fe.files[0], mutant);
      cdr::driver::Frontend again;
      again.AddText("formatted.cdr", once);
      ASSERT_TRUE(again.files[0].parsed_cleanly) << p << " mutant " << i << ":\n" << mutant << "\n---\n" << once;
      ASSERT_EQ(cdr::ast::Dump(again.files[0], false), cdr::ast::Dump(fe.files[0], false))
          << p << " mutant " << i << ":\n" << mutant << "\n---\n" << once;
      ASSERT_EQ(cdr::format::Format(again.files[0], once), once) << p << " mutant " << i;
    }
  }
  // The mutations must exercise both paths.
  EXPECT_GT(parsed, total / 20);
  EXPECT_LT(parsed, total);
}

TEST(Robustness, HostileInputsGiveDiagnostics) {
  std::vector<std::string> inputs = {
      std::string(1, '\0'),
      std::string(100000, '('),
      std::string(100000, '{'),
      "rule r version \"1.0.0\"\n let x = " + std::string(50000, '-') + "1",
      "rule r version \"1.0.0\"\n let x = " + [] { std::string s; for (int i = 0; i < 30000; ++i) s += "if true then "; return s; }(),
      "rule r version \"1.0.0\"\n let x = " + [] { std::string s; for (int i = 0; i < 30000; ++i) s += "1 * "; return s + "1"; }(),
      "\xef\xbb\xbfrule r version \"1.0.0\"",  // a byte-order mark
      "rule r version \"" + std::string(200000, 'x'),
      "/* unterminated comment",
      // A rule set's `approvals` without its count (fuzz_format: the missing token was read).
      "ruleset icu retention 8 days\n  approvals \"Sepsis committee\"\n",
  };
  for (const auto& text : inputs) {
    cdr::driver::Frontend fe;
    ASSERT_NO_THROW({
      fe.AddText("hostile.cdr", text);
      fe.Check();
    });
    EXPECT_GT(fe.diags.error_count(), 0u) << text.substr(0, 60);
  }
}

}  // namespace
