// runtime/due_queue.h: the engine's queues of timed work (timer points, trace records due
// once final), taken in order as the stream's time passes.
//
// Entries are pushed far ahead of their time (a `no ... within 12h` timer 12 hours ahead),
// so a stream of 100,000 patients holds millions of them. A binary heap of that size costs
// a cache miss per level on every pop. Here an entry is appended, unsorted, to the bucket
// of its time (2^16 ms, about a minute, per bucket), and a bucket is sorted once, when the
// first of its entries is taken: each entry costs an append and its share of sorting a
// bucket that fits in cache. Entries come out in exactly the order a heap would give,
// entries pushed while taking included.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <absl/container/btree_map.h>

namespace cdr::runtime {

/// A min-queue of entries with an `int64_t time` member, ordered by `Less` (which must
/// order by time first).
template <typename T, typename Less>
class DueQueue {
 public:
  explicit DueQueue(Less less = Less()) : less_(std::move(less)) {}

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  void Push(const T& v) {
    ++size_;
    auto [it, fresh] = buckets_.try_emplace(v.time >> kShift);
    Bucket& b = it->second;
    if (fresh && !spare_.empty()) {
      b.items = std::move(spare_.back());
      spare_.pop_back();
    }
    if (!b.sorted) {
      b.items.push_back(v);
      return;
    }
    // The bucket is being taken: keep what is left sorted. An entry less than those
    // already taken goes first (a heap would hand it out next as well).
    auto pos = std::upper_bound(b.items.begin() + static_cast<std::ptrdiff_t>(b.next), b.items.end(), v, less_);
    b.items.insert(pos, v);
  }

  /// Calls `f` with every entry not yet taken, in no particular order (a checkpoint).
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [_, b] : buckets_) {
      for (size_t i = b.next; i < b.items.size(); ++i) f(b.items[i]);
    }
  }

  /// Takes the least entry into `out` if its time is at most `upto`.
  bool PopUpTo(int64_t upto, T& out) {
    if (buckets_.empty()) return false;
    auto it = buckets_.begin();
    if (it->first > (upto >> kShift)) return false;
    Bucket& b = it->second;
    if (!b.sorted) {
      std::sort(b.items.begin(), b.items.end(), less_);
      b.sorted = true;
    }
    if (b.items[b.next].time > upto) return false;
    out = b.items[b.next++];
    --size_;
    if (b.next == b.items.size()) {  // used up: its memory serves a later bucket
      if (spare_.size() < kSpares) {
        b.items.clear();
        spare_.push_back(std::move(b.items));
      }
      buckets_.erase(it);
    }
    return true;
  }

 private:
  static constexpr int kShift = 16;  // bucket width 2^16 ms (times may be negative: >> floors)
  static constexpr size_t kSpares = 8;
  struct Bucket {
    std::vector<T> items;
    size_t next = 0;      // items before it are taken
    bool sorted = false;  // sorted once its first entry is taken
  };
  Less less_;
  absl::btree_map<int64_t, Bucket> buckets_;  // never holds an empty bucket
  std::vector<std::vector<T>> spare_;
  size_t size_ = 0;
};

}  // namespace cdr::runtime
