// tests/golden/golden_util.h: reading golden files, and comparing output with an expected
// file (or rewriting it under CDR_UPDATE_GOLDEN=1), for every golden suite.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cdr::golden {

inline std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Updating() {
  const char* u = std::getenv("CDR_UPDATE_GOLDEN");
  return u && std::string(u) == "1";
}

/// `actual` must equal the contents of `expected`; with CDR_UPDATE_GOLDEN=1 it is written there.
inline void ExpectMatchesFile(const std::filesystem::path& expected, const std::string& actual) {
  if (Updating()) {
    std::ofstream(expected, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(expected)) << "missing " << expected << " (run with CDR_UPDATE_GOLDEN=1)";
  EXPECT_EQ(actual, ReadAll(expected)) << expected << " differs";
}

}  // namespace cdr::golden
