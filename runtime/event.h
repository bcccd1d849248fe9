// runtime/event.h: normalized events and the per-patient state the rules read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/time_map.h"

namespace cdr::runtime {

enum class Status : uint8_t { Final, Amended, EnteredInError };

/// One event after decoding: its signal resolved, its value in the signal's canonical
/// unit. Its texts are views: into the decoder's buffers (valid until the next decode) or
/// the caller's strings; Engine::Ingest copies what it keeps, so they need to outlive only
/// that call.
struct Event {
  std::string_view id;
  std::string_view patient;
  int32_t signal = -1;  // index into ir::Module::signals
  int64_t time = 0;     // event time, ms since the epoch
  int64_t recorded = 0;
  bool has_value = false;
  int64_t value = 0;  // raw: bool 0/1, int, decimal raw, interned text id
  Status status = Status::Final;
  /// Outside its signal's plausible range, kept because the schema says `keep`.
  bool implausible = false;
  /// Where it came from, for the late output: the input's text (empty: none) and line.
  std::string_view source;
  uint64_t source_line = 0;
};

/// a == b, inline (string_view's operator== is often left a call: on the per-event path
/// that costs more than the compare).
inline bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

/// An event as stored for a patient and signal: 24 bytes, trivially copyable. Its id's
/// text is kept apart, in the patient's id texts (IdTexts), since the rules never read
/// it; only corrections, ties at one time and evidence do.
struct StoredEvent {
  int64_t time = 0;
  int64_t value = 0;
  bool has_value = false;
  bool implausible = false;  // outside the signal's plausible range, kept (`plausible ... keep`)
  uint32_t id = 0;  // the reference of the event's id in IdTexts; 0: none (a derived event)
};

/// The ids of a patient's stored events, back to back in one buffer (no allocation per
/// event): each a 4-byte header (the length, and a flag in its top bit), a 4-byte tag when
/// the flag says so, and the text, padded to 8 bytes. The tag is what the owner reads only
/// when an id comes again (the engine keeps there the event's `recorded` time as an offset
/// from its event time); a zero tag takes no room. A reference is the entry's offset in
/// 8-byte units plus one, so 32 bits reach 32 GiB. Dropped entries are reclaimed by
/// Compact, which the owner calls with every live reference.
class IdTexts {
 public:
  uint32_t Add(std::string_view id, int32_t tag = 0);
  std::string_view Text(uint32_t ref) const {
    if (ref == 0) return {};
    const char* at = Entry(ref);
    uint32_t h = Header(at);
    return {at + (h & kTagged ? 8 : 4), h & ~kTagged};
  }
  int32_t Tag(uint32_t ref) const {
    if (ref == 0) return 0;
    const char* at = Entry(ref);
    if (!(Header(at) & kTagged)) return 0;
    int32_t tag;
    std::memcpy(&tag, at + 4, 4);
    return tag;
  }
  void Drop(uint32_t ref) {
    if (ref) dead_ += Span(Header(Entry(ref)));
  }
  /// Whether every entry is dropped (Clear may free the buffer).
  bool AllDropped() const { return dead_ == buf_.size(); }
  void Clear() { *this = IdTexts(); }
  /// Whether enough is dropped that compacting pays (more than half, and at least 4 KiB).
  bool WantsCompaction() const { return dead_ > 4096 && dead_ * 2 > buf_.size(); }
  /// Rewrites every live reference (each passed once, by reference) into a fresh buffer.
  template <typename ForEachRef>
  void Compact(ForEachRef&& for_each_ref) {
    IdTexts fresh;
    fresh.buf_.reserve(buf_.size() - dead_);
    for_each_ref([&](uint32_t& ref) {
      if (ref) ref = fresh.Add(Text(ref), Tag(ref));
    });
    *this = std::move(fresh);
  }
  size_t bytes() const { return buf_.size(); }
  size_t capacity() const { return buf_.capacity(); }
  /// Whether `ref` is 0 or the start of an entry that lies within the buffer (a reference
  /// read back from a checkpoint).
  bool Valid(uint32_t ref) const {
    if (ref == 0) return true;
    size_t at = (static_cast<size_t>(ref) - 1) * 8;
    return at + 4 <= buf_.size() && at + Span(Header(buf_.data() + at)) <= buf_.size();
  }
  /// The buffer and its dropped bytes, as they are (a checkpoint), and back.
  std::string_view raw() const { return {buf_.data(), buf_.size()}; }
  size_t dropped() const { return dead_; }
  void Assign(std::string_view raw, size_t dropped) {
    buf_.assign(raw.begin(), raw.end());
    dead_ = dropped;
  }

 private:
  static constexpr uint32_t kTagged = 1u << 31;
  const char* Entry(uint32_t ref) const { return buf_.data() + (static_cast<size_t>(ref) - 1) * 8; }
  static uint32_t Header(const char* at) {
    uint32_t h;
    std::memcpy(&h, at, 4);
    return h;
  }
  /// The bytes of an entry with this header.
  static size_t Span(uint32_t header) {
    return ((header & kTagged ? 8 : 4) + static_cast<size_t>(header & ~kTagged) + 7) & ~size_t{7};
  }
  // A vector, grown 1.5 times when full from 64 bytes: a std::string at least doubles
  // its capacity, which left a quarter of the texts' memory unused on average.
  std::vector<char> buf_;
  size_t dead_ = 0;
};

[[gnu::always_inline]] inline uint32_t IdTexts::Add(std::string_view id, int32_t tag) {
  size_t at = buf_.size();
  // ids are shorter than an event line (1 MiB): the length leaves the top bit free
  uint32_t header = static_cast<uint32_t>(id.size()) | (tag ? kTagged : 0);
  size_t need = at + Span(header), room = buf_.capacity();
  if (need > room) buf_.reserve(std::max({need, room + room / 2, size_t{64}}));
  buf_.resize(need);
  std::memcpy(buf_.data() + at, &header, 4);
  if (tag) std::memcpy(buf_.data() + at + 4, &tag, 4);
  std::memcpy(buf_.data() + at + (tag ? 8 : 4), id.data(), id.size());
  return static_cast<uint32_t>(at / 8 + 1);
}

/// A signal's events as native code reads them: StoredEvent records (time at offset 0,
/// value at 8, has_value at 16), sorted by time.
struct EventSpan {
  const StoredEvent* data;
  int64_t size;
};

class WindowIndex;
class SustainedMemo;

/// One signal's events of a patient, sorted by (time, id): a std::vector that keeps its
/// span (data, size) current at offset 0, where native code reads it without a call and
/// without the runtime building spans for each evaluation. Every change goes through the
/// members below, which update the span and, when the list has one, its window index
/// (runtime/window.h: what makes its aggregates O(log n)).
class EventList {
 public:
  using iterator = std::vector<StoredEvent>::iterator;
  using const_iterator = std::vector<StoredEvent>::const_iterator;

  EventList() noexcept = default;
  ~EventList();
  EventList(const EventList& o);
  EventList(EventList&& o) noexcept;
  EventList& operator=(const EventList& o);
  EventList& operator=(EventList&& o) noexcept;

  /// The window index keeping `needs` (WindowNeed bits; the same for every call on one
  /// list: what the module's aggregates read it for, LoadedRule::slot_needs), brought up
  /// to date with the records first, or null when `needs` is 0. Built on the first call: a
  /// list whose windows stay small never pays for one; a change only marks where it
  /// starts, and the index catches up here (runtime/window.cpp).
  const WindowIndex* index(uint8_t needs) const;

  const EventSpan& span() const { return span_; }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  size_t capacity() const { return v_.capacity(); }
  /// The memory its window index holds (0: none built).
  size_t index_bytes() const;
  const StoredEvent* data() const { return v_.data(); }
  const StoredEvent& operator[](size_t i) const { return v_[i]; }
  const StoredEvent& back() const { return v_.back(); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.end(); }
  /// Mutable access to the records (not to their number, places, times or values: only
  /// their ids; SetValue changes a value).
  iterator begin() { return v_.begin(); }
  iterator end() { return v_.end(); }
  void SetValue(const_iterator pos, int64_t value) {
    auto at = pos - v_.cbegin();
    v_[static_cast<size_t>(at)].value = value;
    if (index_) Dirty(static_cast<size_t>(at));
  }
  /// The first record with time >= `time` (end() when none).
  const_iterator FirstAt(int64_t time) const { return v_.begin() + FirstIndexAt(time); }

  void reserve(size_t n) {
    v_.reserve(n);
    Sync();
  }
  /// Gives unused room back (after an eviction), with the window index (rebuilt when next read).
  void ReleaseUnused();  // runtime/window.cpp
  void push_back(StoredEvent e) {
    Grow();
    v_.push_back(e);
    Sync();
    if (index_) Dirty(v_.size() - 1);
  }
  /// Appends a record written in place, field by field: a copy of a temporary would be
  /// reloaded at full width from its partial stores, and such a load waits for every
  /// older store to reach the cache (the id's text, just written to a cold buffer).
  void emplace_back(int64_t time, int64_t value, bool has_value, bool implausible, uint32_t id) {
    Grow();
    StoredEvent& r = v_.emplace_back();
    r.time = time;
    r.value = value;
    r.has_value = has_value;
    r.implausible = implausible;
    r.id = id;
    Sync();
    if (index_) Dirty(v_.size() - 1);
  }
  iterator insert(const_iterator pos, StoredEvent e) {
    auto at = pos - v_.cbegin();
    Grow();
    auto it = v_.insert(v_.cbegin() + at, e);
    Sync();
    if (index_) Dirty(static_cast<size_t>(at));
    return it;
  }
  iterator erase(const_iterator pos) {
    auto at = pos - v_.cbegin();
    auto it = v_.erase(pos);
    Sync();
    if (index_) Dirty(static_cast<size_t>(at));
    return it;
  }
  iterator erase(const_iterator first, const_iterator last) {
    auto at = first - v_.cbegin();
    auto it = v_.erase(first, last);
    Sync();
    if (index_) Dirty(static_cast<size_t>(at));
    return it;
  }

 private:
  std::ptrdiff_t FirstIndexAt(int64_t time) const {
    return std::lower_bound(v_.begin(), v_.end(), time, [](const StoredEvent& e, int64_t t) { return e.time < t; }) -
           v_.begin();
  }
  void Sync() { span_ = EventSpan{v_.data(), static_cast<int64_t>(v_.size())}; }
  /// The records changed from `from` on (the list has an index): it catches up when next read.
  void Dirty(size_t from);  // runtime/window.cpp
  /// Room for one more: 4 records first, then 1.5 times as many (a patient's lists are
  /// many and mostly short: a lab taken a few times a day; doubling left half of their
  /// memory unused on the replay, and 8 records first a third of it).
  void Grow() {
    size_t c = v_.capacity();
    if (v_.size() == c) v_.reserve(c < 4 ? 4 : c + c / 2);
  }
  EventSpan span_{nullptr, 0};  // first: native code reads it at the list's address
  std::vector<StoredEvent> v_;
  mutable std::unique_ptr<WindowIndex> index_;  // built on first read (index())
};

/// A patient's events, per signal, each list sorted by (time, id).
struct PatientEvents {
  std::vector<EventList> by_signal;
  /// What evaluations of `for` learned about this patient's conditions (runtime/
  /// interpreter.h), kept by an owner that reports every change of the lists to it (the
  /// engine); null: each `for` looks at its whole window at each evaluation.
  SustainedMemo* sustained = nullptr;
};

}  // namespace cdr::runtime
