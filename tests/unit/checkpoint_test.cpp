// tests/unit/checkpoint_test.cpp: a host saved between two lines and restored in a new
// host continues exactly: the outputs of the pieces, one after the other, are
// byte-identical to those of one uninterrupted run, wherever the cuts fall. And the
// checkpoint file refuses what it must (corrupt, another identity, another version).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/file_host.h"
#include "stdlib/hash.h"
#include "tests/unit/stream_util.h"

namespace {

using cdr::test::Generated;
using cdr::test::NativeRules;
using cdr::test::RandomEvents;
using cdr::test::ShippedRules;
namespace rt = cdr::runtime;

// An input as a feed gives it: versions of ids, arrival within the lateness, an event
// with an absurd time (held by the stream clock, then quarantined), a malformed line, a
// blank line.
std::string MessyInput(uint32_t seed, int64_t lateness) {
  auto events = cdr::test::ArrivalOrder(RandomEvents(seed, 400, /*versions=*/true), seed, lateness / 2);
  std::vector<std::string> lines;
  for (const auto& e : events) lines.push_back(e.line);
  int64_t ahead = events[events.size() / 3].time + 30LL * 86400000;
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(lines.size() / 3),
               "{\"id\":\"ahead\",\"patient\":\"p1\",\"time\":\"" + cdr::stdlib::FormatTime(ahead) +
                   "\",\"signal\":\"heart_rate\",\"value\":180,\"unit\":\"/min\"}");
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(lines.size() / 2), "{\"id\": not json");
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(2 * lines.size() / 3), "");
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  return input;
}

struct Outputs {
  std::ostringstream alerts, trace, dead, late;
  rt::JsonLinesSink sink{{&alerts, &trace, &dead, &late}};
  std::string All() const {
    return "alerts\n" + alerts.str() + "trace\n" + trace.str() + "dead\n" + dead.str() + "late\n" + late.str();
  }
};

rt::EngineOptions Options(int64_t lateness, rt::Emit emit, bool native) {
  rt::EngineOptions options;
  options.allowed_lateness_ms = lateness;
  options.emit = emit;
  if (native) options.native = NativeRules();
  return options;
}

// An after_line hook that, after `lines` more lines, saves `host` into `saved` and stops it.
std::function<bool()> SaveAfter(int lines, rt::FileHost*& host, std::string& saved) {
  return [left = lines, &host, &saved]() mutable {
    if (left < 0 || --left > 0) return true;
    rt::CheckpointWriter w;
    host->Save(w);
    saved = w.bytes();
    return false;
  };
}

// Runs `input` in pieces: each stops after `cuts[i]` more lines, saves, and the next
// piece restores that state into a new host and reads on from the saved offset.
std::string RunInPieces(const std::string& input, const rt::EngineOptions& options, const std::vector<int>& cuts) {
  Outputs out;
  std::string saved;
  for (size_t piece = 0; piece <= cuts.size(); ++piece) {
    rt::HostOutputs host_out{&out.sink, {}, {}, {}};
    rt::FileHost* current = nullptr;
    host_out.after_line = SaveAfter(piece < cuts.size() ? cuts[piece] : -1, current, saved);
    rt::FileHost host(ShippedRules(), host_out, options);
    current = &host;
    uint64_t offset = 0;
    if (piece > 0) {
      rt::CheckpointReader r(saved);
      EXPECT_TRUE(host.Restore(r)) << "piece " << piece;
      offset = host.input_offset();
    }
    std::istringstream in(input.substr(offset));
    rt::HostStats s = host.Run(rt::StreamSource(in));
    EXPECT_EQ(s.stopped, piece < cuts.size()) << "piece " << piece << ": the cut must fall inside the input";
  }
  return out.All();
}

std::string RunWhole(const std::string& input, const rt::EngineOptions& options) {
  Outputs out;
  std::istringstream in(input);
  rt::RunFileHost(ShippedRules(), in, {&out.sink, {}, {}, {}}, options);
  return out.All();
}

TEST(Checkpoint, APieceRestoredFromASaveContinuesByteIdentically) {
  const int64_t lateness = 6LL * 3600 * 1000;
  int compared = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const std::string input = MessyInput(seed, lateness);
    const int lines = static_cast<int>(std::count(input.begin(), input.end(), '\n')) - 1;  // the blank one
    for (auto emit : {rt::Emit::Settled, rt::Emit::Eager}) {
      for (bool native : {false, true}) {
        const rt::EngineOptions options = Options(lateness, emit, native);
        const std::string whole = RunWhole(input, options);
        ASSERT_NE(whole.find("\"action\":\"fire\""), std::string::npos) << "the input must make alerts";
        ASSERT_NE(whole.find("ahead of the stream time"), std::string::npos) << "the clock must hold and quarantine";
        std::mt19937 rng(seed * 31 + native);
        for (int trial = 0; trial < 6; ++trial) {
          // Two or three cuts anywhere (the first line, the last, one after another).
          std::vector<int> at;
          int pieces = 2 + static_cast<int>(rng() % 2);
          for (int i = 0; i < pieces; ++i) at.push_back(1 + static_cast<int>(rng() % static_cast<uint32_t>(lines - 1)));
          if (trial == 0) at = {1, 1, lines - 2};
          std::sort(at.begin(), at.end());
          std::vector<int> cuts;
          int before = 0;
          for (int a : at) {
            if (a > before) cuts.push_back(a - before);
            before = std::max(before, a);
          }
          std::string pieced = RunInPieces(input, options, cuts);
          EXPECT_TRUE(pieced == whole) << "seed " << seed << " eager " << (emit == rt::Emit::Eager) << " native "
                                       << native << " cuts after lines " << ::testing::PrintToString(at);
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 96);
}

// Every prefix of a saved state is refused by Restore, never read as something else.
TEST(Checkpoint, ATruncatedStateIsRefused) {
  const std::string input = MessyInput(7, 6LL * 3600 * 1000);
  const rt::EngineOptions options = Options(6LL * 3600 * 1000, rt::Emit::Settled, false);
  std::string saved;
  {
    Outputs out;
    rt::FileHost* current = nullptr;
    rt::HostOutputs host_out{&out.sink, SaveAfter(150, current, saved), {}, {}};
    rt::FileHost host(ShippedRules(), host_out, options);
    current = &host;
    std::istringstream in(input);
    host.Run(rt::StreamSource(in));
  }
  ASSERT_GT(saved.size(), 1000u);
  for (size_t cut = 0; cut < saved.size(); cut += 1 + cut / 16) {
    Outputs out;
    rt::FileHost host(ShippedRules(), {&out.sink, {}, {}, {}}, options);
    rt::CheckpointReader r(std::string_view(saved).substr(0, cut));
    EXPECT_FALSE(host.Restore(r)) << "a state cut at byte " << cut << " of " << saved.size();
  }
}

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cdr-checkpoint-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::remove(rt::CheckpointPath(dir_).c_str());
    rmdir(dir_.c_str());
  }
  std::string Contents() {
    std::ifstream f(rt::CheckpointPath(dir_), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void Overwrite(const std::string& bytes) { std::ofstream(rt::CheckpointPath(dir_), std::ios::binary) << bytes; }
  std::string dir_;
};

TEST_F(CheckpointFile, RoundTripsAndIsPrivate) {
  std::string error;
  auto none = rt::ReadCheckpoint(dir_, "rules: a\n", error);
  ASSERT_TRUE(none) << error;
  EXPECT_FALSE(none->present);
  ASSERT_TRUE(rt::WriteCheckpoint(dir_, "rules: a\n", std::string("body\0bytes", 10), error)) << error;
  auto loaded = rt::ReadCheckpoint(dir_, "rules: a\n", error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_TRUE(loaded->present);
  EXPECT_EQ(loaded->body, std::string("body\0bytes", 10));
  struct stat st {};
  ASSERT_EQ(stat(rt::CheckpointPath(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(access((rt::CheckpointPath(dir_) + ".tmp").c_str(), F_OK), 0) << "no temporary file is left";
}

TEST_F(CheckpointFile, RefusesAnotherIdentityNamingWhatDiffers) {
  std::string error;
  ASSERT_TRUE(rt::WriteCheckpoint(dir_, "rules: a\noptions: --emit settled\n", "x", error));
  EXPECT_FALSE(rt::ReadCheckpoint(dir_, "rules: a\noptions: --emit eager\n", error));
  EXPECT_NE(error.find("it has options: --emit settled; this run has options: --emit eager"), std::string::npos) << error;
}

TEST_F(CheckpointFile, RefusesEveryCorruptByteAndATruncation) {
  std::string error;
  ASSERT_TRUE(rt::WriteCheckpoint(dir_, "rules: a\n", "some state", error));
  const std::string good = Contents();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    Overwrite(bad);
    EXPECT_FALSE(rt::ReadCheckpoint(dir_, "rules: a\n", error)) << "byte " << i << " changed";
  }
  Overwrite(good.substr(0, good.size() - 1));
  EXPECT_FALSE(rt::ReadCheckpoint(dir_, "rules: a\n", error));
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  Overwrite("not a checkpoint at all");
  EXPECT_FALSE(rt::ReadCheckpoint(dir_, "rules: a\n", error));
  EXPECT_NE(error.find("not a cdr checkpoint"), std::string::npos) << error;
}

TEST_F(CheckpointFile, RefusesAnotherFormatVersion) {
  std::string error;
  ASSERT_TRUE(rt::WriteCheckpoint(dir_, "rules: a\n", "x", error));
  std::string file = Contents();
  // The version follows the 8-byte magic; the checksum (the last 64 bytes) is made anew.
  std::string body = file.substr(0, file.size() - 64);
  body[8] = static_cast<char>(rt::kCheckpointVersion + 1);
  Overwrite(body + cdr::stdlib::Sha256Hex(body));
  EXPECT_FALSE(rt::ReadCheckpoint(dir_, "rules: a\n", error));
  EXPECT_NE(error.find("format version " + std::to_string(rt::kCheckpointVersion + 1) + ", this cdr reads version " +
                       std::to_string(rt::kCheckpointVersion)),
            std::string::npos)
      << error;
}

}  // namespace
