// tests/unit/line_reader_test.cpp: the host's line splitting, against std::getline on
// the same input, over block boundaries, short reads and overlong lines.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/line_reader.h"

namespace cdr::runtime {
namespace {

// A source that hands out at most `chunk` bytes per read, like a pipe.
ReadFn Chunked(const std::string& data, size_t chunk) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, chunk, pos](char* to, size_t n) -> long {
    size_t k = std::min({n, chunk, data.size() - *pos});
    std::copy_n(data.data() + *pos, k, to);
    *pos += k;
    return static_cast<long>(k);
  };
}

std::vector<std::string> Expected(const std::string& data) {
  std::vector<std::string> lines;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST(LineReader, SameLinesAsGetlineWhateverTheBlockAndReadSizes) {
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    std::string data;
    int lines = static_cast<int>(rng() % 20);
    for (int i = 0; i < lines; ++i) {
      data += std::string(rng() % 40, static_cast<char>('a' + i % 26));
      if (i + 1 < lines || rng() % 2) data += '\n';
    }
    size_t block = 41 + rng() % 64;  // every line fits
    size_t chunk = 1 + rng() % 70;
    LineReader reader(Chunked(data, chunk), block, 8);
    std::vector<std::string> got;
    Line line;
    while (reader.Next(line)) {
      EXPECT_EQ(line.size, line.text.size());
      EXPECT_GE(line.readable, line.text.size() + kLinePadding);
      got.emplace_back(line.text);
    }
    EXPECT_EQ(got, Expected(data)) << "block " << block << ", chunk " << chunk;
    EXPECT_TRUE(reader.error().empty());
  }
}

// HL7 v2 segments end with CR, LF or CRLF (cr_ends_lines): the same lines as splitting
// by hand, and consumed() is always the offset just after the last line handed out.
TEST(LineReader, CrLfAndCrlfEndLinesWhenAsked) {
  std::mt19937 rng(12);
  const char* ends[] = {"\r", "\n", "\r\n"};
  for (int round = 0; round < 300; ++round) {
    std::string data;
    std::vector<std::string> want;
    std::vector<uint64_t> offsets;
    int lines = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < lines; ++i) {
      want.push_back(std::string(1 + rng() % 30, static_cast<char>('a' + i % 26)));
      data += want.back();
      data += ends[rng() % 3];
      offsets.push_back(data.size());
    }
    size_t block = 41 + rng() % 64;
    size_t chunk = 1 + rng() % 70;
    LineReader reader(Chunked(data, chunk), block, 8, /*cr_ends_lines=*/true);
    std::vector<std::string> got;
    Line line;
    while (reader.Next(line)) {
      got.emplace_back(line.text);
      ASSERT_LE(got.size(), offsets.size());
      EXPECT_EQ(reader.consumed(), offsets[got.size() - 1]);
    }
    EXPECT_EQ(got, want) << "block " << block << ", chunk " << chunk;
    EXPECT_EQ(reader.consumed(), data.size());
  }
}

// A CR last in what has been read waits for the next read (its LF may follow), but a
// quiet source hands the line out: a live feed's last segment is not held back.
TEST(LineReader, ACrBeforeAQuietSourceEndsItsLine) {
  std::vector<std::string> reads = {"MSH|a\r", "", "PID|b\r", "\nOBX|c"};
  size_t next = 0;
  LineReader reader(
      [&](char* to, size_t n) -> long {
        if (next == reads.size()) return 0;
        const std::string& r = reads[next++];
        if (r.empty()) return kReadIdle;
        std::copy_n(r.data(), std::min(n, r.size()), to);
        return static_cast<long>(r.size());
      },
      64, 8, /*cr_ends_lines=*/true);
  Line line;
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "MSH|a");
  EXPECT_EQ(reader.consumed(), 6u);
  ASSERT_TRUE(reader.Next(line));  // its CR waits for the LF that follows: one CRLF
  EXPECT_EQ(line.text, "PID|b");
  EXPECT_EQ(reader.consumed(), 13u);
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "OBX|c");
  EXPECT_FALSE(reader.Next(line));
}

TEST(LineReader, OverlongLinesKeepAPrefixAndTheirFullSize) {
  std::string data = "short\n" + std::string(1000, 'x') + "\nafter\n" + std::string(77, 'y');
  LineReader reader(Chunked(data, 13), 64, 10);
  Line line;
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "short");
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.size, 1000u);
  EXPECT_EQ(line.text, std::string(10, 'x'));
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "after");
  ASSERT_TRUE(reader.Next(line));  // the last line, overlong and without '\n'
  EXPECT_EQ(line.size, 77u);
  EXPECT_EQ(line.text, std::string(10, 'y'));
  EXPECT_FALSE(reader.Next(line));
}

TEST(LineReader, AReadErrorEndsTheInputWithItsReason) {
  bool first = true;
  LineReader reader(
      [&](char* to, size_t) -> long {
        if (!first) {
          errno = EIO;
          return -1;
        }
        first = false;
        std::copy_n("a\nb", 3, to);
        return 3;
      },
      64, 8);
  Line line;
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "a");
  ASSERT_TRUE(reader.Next(line));  // what was read before the error is not lost
  EXPECT_EQ(line.text, "b");
  EXPECT_FALSE(reader.Next(line));
  EXPECT_FALSE(reader.error().empty());
}

}  // namespace
}  // namespace cdr::runtime
