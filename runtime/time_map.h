// runtime/time_map.h: a map from event time to V kept as a sorted vector. Per-patient
// points and alerts arrive almost always in time order, so appending is the common case
// and there is no allocation per entry (std::map allocates a node for each).
#pragma once

#include <algorithm>
#include <iterator>
#include <cstdint>
#include <utility>
#include <vector>

namespace cdr::runtime {

/// Gives a vector's unused room back when it holds less than a quarter of it (after an
/// eviction: a patient who left keeps what the retention asks for, not the room their
/// stay needed). Leaves half as much again as it holds, so that appends do not regrow it
/// at once. True when it did.
template <typename T>
bool ReleaseUnused(std::vector<T>& v) {
  size_t c = v.capacity();
  if (c < 8 || v.size() >= c / 4) return false;
  std::vector<T> fresh;
  fresh.reserve(v.size() + v.size() / 2);
  fresh.insert(fresh.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  v.swap(fresh);
  return true;
}

template <typename V>
class TimeMap {
 public:
  using value_type = std::pair<int64_t, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return items_.capacity(); }

  iterator lower_bound(int64_t t) {
    if (items_.empty() || items_.back().first < t) return items_.end();
    if (items_.back().first == t) return items_.end() - 1;  // the common case: the latest
    return std::lower_bound(items_.begin(), items_.end(), t, [](const value_type& a, int64_t k) { return a.first < k; });
  }
  iterator find(int64_t t) {
    auto it = lower_bound(t);
    return it != items_.end() && it->first == t ? it : items_.end();
  }
  size_t count(int64_t t) { return find(t) != items_.end() ? 1 : 0; }

  /// Inserts a default value at `t` if absent; true when inserted.
  std::pair<iterator, bool> try_emplace(int64_t t) {
    auto it = lower_bound(t);
    if (it != items_.end() && it->first == t) return {it, false};
    if (items_.size() == items_.capacity()) {
      // 4 first, then 1.5 times as many: a patient's memory is mostly such maps and
      // lists, and room held unused costs more (memory, cache) than a few regrowths.
      size_t at = static_cast<size_t>(it - items_.begin()), c = items_.capacity();
      items_.reserve(c < 4 ? 4 : c + c / 2);
      it = items_.begin() + static_cast<std::ptrdiff_t>(at);
    }
    return {items_.emplace(it, t, V{}), true};
  }
  std::pair<iterator, bool> emplace(int64_t t, V v) {
    auto [it, fresh] = try_emplace(t);
    if (fresh) it->second = std::move(v);
    return {it, fresh};
  }
  V& operator[](int64_t t) { return try_emplace(t).first->second; }

  iterator erase(iterator it) { return items_.erase(it); }
  /// Removes the entry at `t`; false when there was none.
  bool erase(int64_t t) {
    auto it = find(t);
    if (it == items_.end()) return false;
    items_.erase(it);
    return true;
  }
  /// Removes the entries before `it` (eviction from the front).
  void erase_front(iterator it) {
    items_.erase(items_.begin(), it);
    ReleaseUnused(items_);
  }

 private:
  std::vector<value_type> items_;
};

}  // namespace cdr::runtime
