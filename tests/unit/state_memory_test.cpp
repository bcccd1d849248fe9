// tests/unit/state_memory_test.cpp: the engine's state gives back the memory of what it
// evicted (a patient after a busy stay keeps what the retention asks for, not the room
// the stay needed), and Engine::StateUsage accounts for it by part.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <fmt/format.h>

#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "stdlib/time.h"
#include "tests/unit/stream_util.h"

namespace {

namespace rt = cdr::runtime;

TEST(StateMemory, EvictedHistoryGivesItsRoomBack) {
  // One patient: a heart rate every minute for two days (2,880 events, as many points per
  // rule reading it), then one every 6 hours for 10 days. At the end the retention (8 days)
  // holds the quiet part only, and only the last day of points (the allowed lateness)
  // is not yet final.
  const int64_t start = *cdr::stdlib::ParseTime("2024-01-01T00:00:00Z");
  std::string input;
  auto add = [&](int n, int64_t t) {
    input += fmt::format(R"({{"id":"e{}","patient":"p1","time":"{}","code":{{"system":"http://loinc.org",)"
                         R"("code":"8867-4"}},"value":80,"unit":"/min"}})",
                         n, cdr::stdlib::FormatTime(t)) + "\n";
  };
  int n = 0;
  int64_t t = start;
  for (; n < 2880; ++n, t += 60000) add(n, t);
  for (int i = 0; i < 40; ++i, ++n, t += 6 * 3600000LL) add(n, t);

  std::ostringstream alerts;
  rt::JsonLinesSink sink({&alerts});
  rt::FileHost host(cdr::test::ShippedRules(), rt::HostOutputs{&sink, {}, {}, {}}, {});
  std::istringstream in(input);
  const rt::HostStats stats = host.Run(rt::StreamSource(in));
  ASSERT_EQ(stats.used, 2920u);
  const rt::Engine::StateUse u = host.engine().StateUsage();
  EXPECT_EQ(u.patients, 1u);
  // Kept: the events of the last 9 days (the watermark is a day behind), 24 bytes each,
  // with the derived events of their points, and what little else; the busy days took
  // 2,880 events (69 KB), their window index (65 KB), an id index of 4,095 slots, and
  // per rule reading the heart rate about 1,440 points (16 bytes each) at once.
  EXPECT_LE(u.events, 4096u) << "the lists keep the room of the busy days";
  EXPECT_LE(u.windows, 4096u) << "the window index keeps the room of the busy days";
  EXPECT_LE(u.points, 4096u) << "the points keep the room of the busy days";
  EXPECT_LE(u.ids, 8192u) << "the id index or texts keep the room of the busy days";
  EXPECT_EQ(u.withdrawn, 0u);
  EXPECT_EQ(u.total(), host.engine().StateBytes());
  EXPECT_LE(u.total(), 16384u);
}

}  // namespace
