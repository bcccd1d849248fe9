// tests/unit/run_stats_test.cpp: the progress line's share of a file and time left
// (`cdr run --progress`); the expected texts worked out by hand.
#include <gtest/gtest.h>

#include "compiler/driver/run_stats.h"

using cdr::driver::ProgressOfFile;

TEST(Progress, ShareAndTimeLeftAtThePaceSoFar) {
  // 250 of 1,000 bytes in 10 s: 25 B/s, 750 bytes left: 30 s.
  EXPECT_EQ(ProgressOfFile(250, 1000, 0, 10.0), ", 25% (about 30 s left)");
  // Restored at byte 400; 200 more bytes in 4 s: 50 B/s, 400 left: 8 s; 600 of 1,000 read.
  EXPECT_EQ(ProgressOfFile(600, 1000, 400, 4.0), ", 60% (about 8 s left)");
  // A file that grew past the size taken at the start: done, nothing left.
  EXPECT_EQ(ProgressOfFile(1200, 1000, 0, 3.0), ", 100% (about 0 s left)");
}

TEST(Progress, NothingWhenTheShareIsUnknown) {
  EXPECT_EQ(ProgressOfFile(500, 0, 0, 1.0), "");     // a pipe: no size
  EXPECT_EQ(ProgressOfFile(400, 1000, 400, 1.0), "");  // nothing read since the restore
  EXPECT_EQ(ProgressOfFile(0, 1000, 0, 1.0), "");
}
