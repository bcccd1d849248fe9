// runtime/window.cpp: the window index of an event list (runtime/window.h), and the
// EventList members that keep it current.
#include "runtime/window.h"

#include <algorithm>
#include <bit>

namespace cdr::runtime {

void WindowIndex::Update(const StoredEvent* data, size_t size, size_t from) {
  from = std::min(from, size_);
  if (from == 0) base_ = size ? data[0].time : 0;  // times are kept relative to the first
  if (needs_ & (kNeedValued | kNeedSums | kNeedMoments)) {
    const bool sums = (needs_ & (kNeedSums | kNeedMoments)) != 0, moments = (needs_ & kNeedMoments) != 0;
    valued_.resize(size + 1);
    valued_[0] = 0;
    if (sums) {
      sum_v_.resize(size + 1);
      sum_v_[0] = 0;
    }
    if (moments) {
      for (auto* v : {&sum_t_, &sum_tt_, &sum_tv_}) {
        v->resize(size + 1);
        (*v)[0] = 0;
      }
    }
    for (size_t i = from; i < size; ++i) {
      const StoredEvent& r = data[i];
      const bool has = r.has_value;
      valued_[i + 1] = valued_[i] + (has ? 1 : 0);
      if (!sums) continue;
      sum_v_[i + 1] = sum_v_[i] + (has ? r.value : 0);
      if (!moments) continue;
      Int128 t = has ? static_cast<Int128>(r.time - base_) : 0;
      sum_t_[i + 1] = sum_t_[i] + t;
      sum_tt_[i + 1] = sum_tt_[i] + t * t;
      sum_tv_[i + 1] = sum_tv_[i] + t * (has ? r.value : 0);
    }
  }
  if (needs_ & kNeedMinMax) {
    size_t old = size_;
    // Room for every record; shrunk when three quarters would stand empty (after eviction).
    if (size > leaves_ || (leaves_ > 16 && size * 4 < leaves_)) {
      leaves_ = std::max<size_t>(16, std::bit_ceil(size));
      min_.assign(2 * leaves_, -1);
      max_.assign(2 * leaves_, -1);
      from = 0;
      old = 0;
    }
    UpdateTree(min_, data, size, from, old, true);
    UpdateTree(max_, data, size, from, old, false);
  }
  size_ = size;
  dirty_from_ = kClean;
}

bool WindowIndex::Better(const StoredEvent* data, int32_t i, int32_t j, bool min) {
  int64_t a = data[i].value, b = data[j].value;
  if (a != b) return min ? a < b : a > b;
  return i < j;  // the earliest of equal values
}

void WindowIndex::UpdateTree(std::vector<int32_t>& tree, const StoredEvent* data, size_t size, size_t from, size_t old,
                             bool min) {
  size_t end = std::max(size, old);  // leaves [from, end) changed (those past `size` are now empty)
  if (from >= end) return;
  for (size_t i = from; i < end; ++i) tree[leaves_ + i] = i < size && data[i].has_value ? static_cast<int32_t>(i) : -1;
  auto pick = [&](int32_t i, int32_t j) {
    if (i < 0) return j;
    if (j < 0) return i;
    return Better(data, i, j, min) ? i : j;
  };
  for (size_t lo = (leaves_ + from) / 2, hi = (leaves_ + end - 1) / 2; lo >= 1; lo /= 2, hi /= 2) {
    for (size_t k = lo; k <= hi; ++k) tree[k] = pick(tree[2 * k], tree[2 * k + 1]);
    if (lo == 1) break;
  }
}

size_t WindowIndex::Best(const std::vector<int32_t>& tree, const StoredEvent* data, size_t b, size_t e,
                         bool min) const {
  int32_t best = -1;
  auto take = [&](int32_t i) {
    if (i >= 0 && (best < 0 || Better(data, i, best, min))) best = i;
  };
  for (size_t l = b + leaves_, r = e + leaves_; l < r; l /= 2, r /= 2) {
    if (l & 1) take(tree[l++]);
    if (r & 1) take(tree[--r]);
  }
  return best < 0 ? e : static_cast<size_t>(best);
}

size_t WindowIndex::FirstValue(size_t b, size_t e) const {
  if (valued_[e] == valued_[b]) return e;
  // The first position p in (b, e] whose count reaches valued_[b] + 1: record p - 1.
  auto it = std::lower_bound(valued_.begin() + static_cast<std::ptrdiff_t>(b) + 1,
                             valued_.begin() + static_cast<std::ptrdiff_t>(e) + 1, valued_[b] + 1);
  return static_cast<size_t>(it - valued_.begin()) - 1;
}

size_t WindowIndex::LastValue(size_t b, size_t e) const {
  if (valued_[e] == valued_[b]) return e;
  auto it = std::lower_bound(valued_.begin() + static_cast<std::ptrdiff_t>(b) + 1,
                             valued_.begin() + static_cast<std::ptrdiff_t>(e) + 1, valued_[e]);
  return static_cast<size_t>(it - valued_.begin()) - 1;
}

std::vector<uint8_t> WindowNeeds(const ir::Module& module, const std::vector<int32_t>& store_of) {
  size_t lists = 0;
  for (int32_t l : store_of) lists = std::max(lists, static_cast<size_t>(l + 1));
  std::vector<uint8_t> needs(lists, 0);
  using A = ir::AggKind;
  for (const ir::Rule& rule : module.rules) {
    for (const ir::Block& block : rule.blocks) {
      for (const ir::Inst& in : block.insts) {
        if (in.op != ir::Op::Agg && in.op != ir::Op::Latest) continue;
        int32_t signal = rule.slots[static_cast<size_t>(in.aux)].signal;
        int32_t list = signal >= 0 ? store_of[static_cast<size_t>(signal)] : -1;
        if (list < 0) continue;
        uint8_t& need = needs[static_cast<size_t>(list)];
        auto kind = in.op == ir::Op::Latest ? A::Last : static_cast<A>(in.imm2);
        switch (kind) {
          case A::Min:
          case A::Max: need |= kNeedMinMax; break;
          case A::Sum:
          case A::Avg: need |= kNeedSums; break;
          case A::Slope: need |= kNeedSums | kNeedMoments; break;
          case A::Last:
          case A::First:
          case A::Count:
          case A::Exists:
          case A::Arrived:
          case A::Delta:
          case A::TimeSince: break;
        }
        // An `event` signal's events may lack a value: the aggregates that take values
        // find them by count, not by scanning past those without.
        bool values = kind != A::Count && kind != A::Exists && kind != A::Arrived && kind != A::TimeSince;
        if (values && module.signals[static_cast<size_t>(signal)].type == ir::SignalType::Event) need |= kNeedValued;
      }
    }
  }
  return needs;
}

// The EventList members that involve its index (event.h keeps WindowIndex incomplete).

EventList::~EventList() = default;

EventList::EventList(const EventList& o) : v_(o.v_) { Sync(); }  // the copy builds its own index

EventList::EventList(EventList&& o) noexcept : v_(std::move(o.v_)), index_(std::move(o.index_)) {
  Sync();
  o.Sync();
}

EventList& EventList::operator=(const EventList& o) {
  v_ = o.v_;
  Sync();
  index_.reset();
  return *this;
}

EventList& EventList::operator=(EventList&& o) noexcept {
  v_ = std::move(o.v_);
  index_ = std::move(o.index_);
  Sync();
  o.Sync();
  return *this;
}

void EventList::Dirty(size_t from) { index_->Dirty(from); }

void EventList::ReleaseUnused() {
  // The index, sized as the list was, goes with the room: after an eviction from the
  // front it is rebuilt whole anyway (Update from record 0).
  if (runtime::ReleaseUnused(v_) || v_.empty()) index_.reset();
  Sync();
}

size_t EventList::index_bytes() const { return index_ ? index_->bytes() : 0; }

const WindowIndex* EventList::index(uint8_t needs) const {
  if (!needs) return nullptr;
  if (!index_) index_ = std::make_unique<WindowIndex>(needs);
  if (!index_->Clean()) index_->Update(v_.data(), v_.size(), index_->dirty_from());
  return index_.get();
}

}  // namespace cdr::runtime
