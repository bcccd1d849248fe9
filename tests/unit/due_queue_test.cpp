// DueQueue against std::priority_queue: the same entries come out in the same order,
// including entries pushed while others are taken, negative times and equal entries.
#include "runtime/due_queue.h"

#include <gtest/gtest.h>

#include <queue>
#include <random>
#include <tuple>

namespace cdr::runtime {
namespace {

struct Entry {
  int64_t time;
  int key;
  bool operator<(const Entry& o) const { return std::tie(time, key) < std::tie(o.time, o.key); }
  bool operator>(const Entry& o) const { return o < *this; }
  bool operator==(const Entry& o) const { return time == o.time && key == o.key; }
};

TEST(DueQueue, TakesEntriesInTheOrderOfAHeap) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    DueQueue<Entry, std::less<Entry>> queue;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    // Times around zero (negative ones too), spread over a few buckets or many.
    const int64_t spread = seed % 2 ? 200000 : 20000000;
    int64_t now = -spread / 2;
    auto push = [&](int64_t t) {
      Entry e{t, static_cast<int>(rng() % 5)};  // equal entries happen
      queue.Push(e);
      heap.push(e);
    };
    for (int i = 0; i < 300; ++i) push(now + static_cast<int64_t>(rng() % static_cast<uint64_t>(spread)));
    size_t taken = 0;
    for (int step = 0; step < 400; ++step) {
      now += static_cast<int64_t>(rng() % static_cast<uint64_t>(spread / 50));
      Entry got{};
      for (;;) {
        bool in_heap = !heap.empty() && heap.top().time <= now;
        ASSERT_EQ(queue.PopUpTo(now, got), in_heap) << "seed " << seed << " step " << step;
        if (!in_heap) break;
        ASSERT_EQ(got, heap.top()) << "seed " << seed << " step " << step;
        heap.pop();
        ++taken;
        // Work done at a due entry schedules more: before it (taken next), at it, later.
        uint64_t what = rng() % 8;
        if (what == 0) push(got.time - static_cast<int64_t>(rng() % 1000));
        if (what == 1) push(got.time);
        if (what == 2) push(got.time + static_cast<int64_t>(rng() % static_cast<uint64_t>(spread)));
      }
      if (rng() % 3 == 0) push(now + static_cast<int64_t>(rng() % static_cast<uint64_t>(spread)));
      ASSERT_EQ(queue.size(), heap.size());
      ASSERT_EQ(queue.empty(), heap.empty());
    }
    EXPECT_GT(taken, 300u);
  }
}

TEST(DueQueue, NothingIsTakenBeforeItsTime) {
  DueQueue<Entry, std::less<Entry>> queue;
  queue.Push({100, 0});
  queue.Push({-5, 1});
  Entry got{};
  EXPECT_FALSE(queue.PopUpTo(-6, got));
  ASSERT_TRUE(queue.PopUpTo(-5, got));
  EXPECT_EQ(got, (Entry{-5, 1}));
  EXPECT_FALSE(queue.PopUpTo(99, got));  // same bucket as 100, still not due
  ASSERT_TRUE(queue.PopUpTo(INT64_MAX, got));
  EXPECT_EQ(got, (Entry{100, 0}));
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.PopUpTo(INT64_MAX, got));
}

}  // namespace
}  // namespace cdr::runtime
