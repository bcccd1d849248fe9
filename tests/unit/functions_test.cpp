// tests/unit/functions_test.cpp: the table of built-ins (stdlib/functions.def) and the
// places that must name every row: the language reference and the all-constructs test.
#include "stdlib/functions.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(std::string(CDR_SOURCE_DIR) + "/" + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Functions, TableIsIndexedByItsEnumAndAggregatesComeFirst) {
  auto all = cdr::stdlib::Functions();
  ASSERT_FALSE(all.empty());
  bool seen_scalar = false;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(all[i].id), i) << all[i].name;
    EXPECT_EQ(&cdr::stdlib::Info(all[i].id), &all[i]);
    auto agg = cdr::stdlib::AsAggregate(all[i].id);
    EXPECT_EQ(agg.has_value(), all[i].aggregate) << all[i].name;
    if (agg) {
      EXPECT_FALSE(seen_scalar) << all[i].name << " comes after a scalar function";
      EXPECT_EQ(cdr::stdlib::Name(*agg), all[i].name);
      EXPECT_EQ(all[i].min_args, 1);
      EXPECT_EQ(all[i].max_args, 1);
    }
    seen_scalar = seen_scalar || !agg;
    EXPECT_LE(all[i].min_args, all[i].max_args) << all[i].name;
    EXPECT_EQ(cdr::stdlib::FindFunction(all[i].name), &all[i]);
  }
}

TEST(Functions, CqlSpellingsResolveToTheirRow) {
  const auto* abs = cdr::stdlib::FindFunction("Abs");
  ASSERT_NE(abs, nullptr);
  EXPECT_EQ(abs->name, "abs");
  const auto* is_null = cdr::stdlib::FindFunction("IsNull");
  ASSERT_NE(is_null, nullptr);
  EXPECT_EQ(is_null->name, "is_null");
  EXPECT_EQ(cdr::stdlib::FindFunction("abss"), nullptr);
  EXPECT_EQ(cdr::stdlib::FindFunction("Last"), nullptr);  // aggregates have no CQL spelling
}

// Every row is documented in the language reference and used by the test of every construct.
TEST(Functions, EveryRowIsDocumentedAndTested) {
  const std::string doc = Read("docs/language.md");
  const std::string all = Read("tests/golden/lint/ok_all_constructs.cdr");
  ASSERT_FALSE(doc.empty());
  ASSERT_FALSE(all.empty());
  // The built-ins the test calls, in any spelling: every name followed by `(`.
  std::set<const cdr::stdlib::FunctionInfo*> called;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] != '(') continue;
    size_t b = i;
    while (b > 0 && (std::isalnum(static_cast<unsigned char>(all[b - 1])) || all[b - 1] == '_')) --b;
    if (const auto* f = cdr::stdlib::FindFunction(std::string_view(all).substr(b, i - b))) called.insert(f);
  }
  for (const auto& f : cdr::stdlib::Functions()) {
    std::string name(f.name);
    EXPECT_TRUE(doc.find("`" + name + "`") != std::string::npos || doc.find("`" + name + "(") != std::string::npos)
        << "docs/language.md does not name `" << name << "`";
    EXPECT_TRUE(called.count(&f)) << "ok_all_constructs.cdr does not call " << name;
  }
}

}  // namespace
