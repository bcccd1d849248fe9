// tests/unit/output_file_test.cpp: output files write whole lines only, report the first
// failed write with the file's name, and are created with the mode asked for.
#include "runtime/output_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TempPath(const char* name) {
  return std::string(::testing::TempDir()) + "/cdr_output_file_" + std::to_string(::getpid()) + "_" + name;
}

TEST(OutputFile, WritesOnlyWholeLines) {
  std::string path = TempPath("lines");
  std::string error;
  auto f = cdr::runtime::OutputFile::Open(path, 0600, error);
  ASSERT_NE(f, nullptr) << error;
  f->stream() << "{\"a\":1}\n{\"b\":";
  ASSERT_TRUE(f->Flush());
  EXPECT_EQ(Slurp(path), "{\"a\":1}\n");  // the unended line stays in the buffer
  EXPECT_EQ(f->lines(), 1u);
  f->stream() << "2}\n";
  ASSERT_TRUE(f->Flush());
  EXPECT_EQ(Slurp(path), "{\"a\":1}\n{\"b\":2}\n");
  // A line longer than the buffer is kept whole: the buffer grows.
  std::string big(200000, 'x');
  f->stream() << big;
  ASSERT_TRUE(f->Flush());
  EXPECT_EQ(Slurp(path).size(), 16u);
  f->stream() << "\n";
  ASSERT_TRUE(f->Flush());
  EXPECT_EQ(Slurp(path).size(), 16u + big.size() + 1);
  EXPECT_EQ(f->lines(), 3u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  f.reset();
  std::remove(path.c_str());
}

TEST(OutputFile, AFailedWriteIsKeptWithTheFileAndTheReason) {
  std::string error;
  auto f = cdr::runtime::OutputFile::Open("/dev/full", 0600, error);
  ASSERT_NE(f, nullptr) << error;
  f->stream() << "{\"alert\":1}\n";
  EXPECT_FALSE(f->Flush());
  EXPECT_EQ(f->error(), ENOSPC);
  EXPECT_EQ(f->ErrorText(), "cannot write /dev/full: No space left on device");
  EXPECT_EQ(f->lines(), 0u);
  f->stream() << "{\"alert\":2}\n";
  EXPECT_FALSE(f->Flush());  // the first error stays
}

TEST(OutputFile, RefusesWhatCannotBeWritten) {
  std::string error;
  EXPECT_EQ(cdr::runtime::OutputFile::Open("/nonexistent-dir/x", 0600, error), nullptr);
  EXPECT_EQ(error, "cannot write /nonexistent-dir/x: No such file or directory");
  EXPECT_EQ(cdr::runtime::OutputFile::Open(::testing::TempDir(), 0600, error), nullptr);
  EXPECT_NE(error.find("s a directory"), std::string::npos) << error;  // EISDIR, or our own check
}

}  // namespace
