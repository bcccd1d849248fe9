// runtime/window.h: what makes a windowed aggregate cost O(log n) per evaluation point
// instead of a scan of its window. An EventList may carry a WindowIndex: prefix counts
// and sums (count of values, sum, and the moments slope needs) and segment trees of the
// smallest and largest value. An aggregate over a window of more than kScanLimit events
// then takes two binary searches and a few lookups (sum, avg, slope, first, last, delta)
// or a tree query (min, max); a smaller window is scanned (a bounded cost). A change of
// the list only marks where it starts; the index catches up when an aggregate next reads
// it: O(1) per appended record (O(log n) with the trees), O(n - i) after a late insert,
// a correction or a removal at position i (as the list's own insert), O(n) after an
// eviction from the front (as the list's own erase). A list whose windows stay small
// never builds its index.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/event.h"
#include "stdlib/decimal.h"

namespace cdr::runtime {

/// Windows of at most this many events are scanned rather than looked up in the index.
inline constexpr size_t kScanLimit = 32;

/// What a list's index keeps, as bits (WindowNeeds).
enum WindowNeed : uint8_t {
  kNeedValued = 1,   // the count of events with a value (a list whose events may lack one)
  kNeedSums = 2,     // sums of values (sum, avg)
  kNeedMoments = 4,  // sums of times, squared times, and times x values (slope)
  kNeedMinMax = 8,   // the smallest and largest value of any range (min, max)
};

class WindowIndex {
 public:
  using Int128 = stdlib::Int128;
  explicit WindowIndex(uint8_t needs) : needs_(needs) {}

  /// The list changed from record `from` on (an append, an insert, an erase, a value set);
  /// `data[0, size)` is the list now.
  void Update(const StoredEvent* data, size_t size, size_t from);

  uint8_t needs() const { return needs_; }
  /// The list changed from record `from` on; Update catches up (Dirty, Clean: EventList).
  void Dirty(size_t from) { dirty_from_ = std::min(dirty_from_, from); }
  bool Clean() const { return dirty_from_ == kClean; }
  size_t dirty_from() const { return dirty_from_; }
  bool counts_values() const { return (needs_ & kNeedValued) != 0; }
  /// Events with a value among [b, e) (kNeedValued).
  int64_t Values(size_t b, size_t e) const { return valued_[e] - valued_[b]; }
  /// The first / last event with a value in [b, e), or e when none (kNeedValued).
  size_t FirstValue(size_t b, size_t e) const;
  size_t LastValue(size_t b, size_t e) const;
  /// Sums over the events with a value in [b, e) (kNeedSums; kNeedMoments for the rest):
  /// of values, of times - base(), of their squares, and of (time - base()) x value.
  /// The memory the index holds (its arrays' capacities).
  size_t bytes() const {
    return sizeof(*this) + valued_.capacity() * sizeof(int64_t) +
           (sum_v_.capacity() + sum_t_.capacity() + sum_tt_.capacity() + sum_tv_.capacity()) * sizeof(Int128) +
           (min_.capacity() + max_.capacity()) * sizeof(int32_t);
  }
  Int128 SumValues(size_t b, size_t e) const { return sum_v_[e] - sum_v_[b]; }
  Int128 SumTimes(size_t b, size_t e) const { return sum_t_[e] - sum_t_[b]; }
  Int128 SumSquaredTimes(size_t b, size_t e) const { return sum_tt_[e] - sum_tt_[b]; }
  Int128 SumTimesValues(size_t b, size_t e) const { return sum_tv_[e] - sum_tv_[b]; }
  int64_t base() const { return base_; }
  /// The event with the smallest / largest value in [b, e) (the earliest of equals), or e
  /// when none has a value (kNeedMinMax).
  size_t Min(const StoredEvent* data, size_t b, size_t e) const { return Best(min_, data, b, e, true); }
  size_t Max(const StoredEvent* data, size_t b, size_t e) const { return Best(max_, data, b, e, false); }

 private:
  static bool Better(const StoredEvent* data, int32_t i, int32_t j, bool min);
  size_t Best(const std::vector<int32_t>& tree, const StoredEvent* data, size_t b, size_t e, bool min) const;
  /// Sets the leaves [from, max(size, old)) (`old`: the size before) and their parents.
  void UpdateTree(std::vector<int32_t>& tree, const StoredEvent* data, size_t size, size_t from, size_t old, bool min);

  static constexpr size_t kClean = ~size_t{0};
  uint8_t needs_;
  size_t dirty_from_ = 0;  // the index is up to date before this record (kClean: all)
  int64_t base_ = 0;
  size_t size_ = 0;  // the list's size at the last update
  // Prefix arrays, one entry more than the list: [i] covers records [0, i).
  std::vector<int64_t> valued_;
  std::vector<Int128> sum_v_, sum_t_, sum_tt_, sum_tv_;
  // Segment trees over record positions (leaves_ leaves, a power of two): each node the
  // position of the best record of its range, -1 for none.
  size_t leaves_ = 0;
  std::vector<int32_t> min_, max_;
};

/// For each stored list (`store_of`: module signal -> list, or -1), what its index must
/// keep for the aggregates the module's rules read it with; 0: no index.
std::vector<uint8_t> WindowNeeds(const ir::Module& module, const std::vector<int32_t>& store_of);

}  // namespace cdr::runtime
