// runtime/engine_state.h: the engine's per-patient state (internal to the engine and its
// checkpoint code: runtime/engine.cpp, runtime/engine_checkpoint.cpp).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "runtime/engine.h"
#include "runtime/time_map.h"

namespace cdr::runtime {

/// A lookup key for Abseil's maps of strings (without copying the text).
inline absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

/// The first 8 bytes of an id, big-endian (zeros after its end): orders as the id does.
inline uint64_t IdPrefix(std::string_view id) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | (i < id.size() ? static_cast<unsigned char>(id[i]) : 0);
  return v;
}

// An evaluation point's result: 8 bytes, so 16 with its time in a rule's points. What an
// alert here would say (its content) is not kept: held points are rare, and it is
// computed again, from the same events, when an alert is fired or compared (Scan).
struct Engine::Point {
  int32_t first_held = -1;
  bool traced = false;
};

struct Engine::Fired {
  int rank = 0;
  uint64_t content = 0;  // Engine::Content of the point when fired
  AlertBody body;        // what the alert said, as fired (its retraction repeats it)
};

struct Engine::RuleState {
  TimeMap<Point> points;
  TimeMap<Fired> fired;
  // The earliest held point whose alert waits for the stream to pass it (decide_due_).
  int64_t undecided_from = INT64_MAX;
};

// Where the version of an event id in force is: its list and time, and its status rank.
// 12 bytes, aligned to 4 (times kept in halves), so that an id-index slot with its 32-bit
// key takes 16 and four share a cache line: every event probes the index. The version's
// `recorded` time, read only when its id comes again, is kept with its id's text (an
// offset from the event time, IdTexts' tag); an offset beyond 32 bits (recorded more than
// 24 days from the event time) is kept exactly in the patient's far_recorded map, and the
// entry says so.
struct IdEntry {
  static constexpr uint32_t kListBits = 0x0FFFFFFF, kRankShift = 28, kFar = 1u << 30;
  uint32_t list_rank;  // stored list (28 bits), status rank (2 bits), far-recorded flag
  uint32_t time_lo;
  int32_t time_hi;
  IdEntry() : IdEntry(0, 0, false, 0) {}
  IdEntry(int32_t list, int64_t t, bool far, int rank)
      : list_rank(static_cast<uint32_t>(list) | static_cast<uint32_t>(rank) << kRankShift | (far ? kFar : 0)),
        time_lo(static_cast<uint32_t>(static_cast<uint64_t>(t))),
        time_hi(static_cast<int32_t>(t >> 32)) {}
  int32_t signal() const { return static_cast<int32_t>(list_rank & kListBits); }
  int rank() const { return static_cast<int>(list_rank >> kRankShift & 3); }
  bool far() const { return (list_rank & kFar) != 0; }
  int64_t time() const { return static_cast<int64_t>(static_cast<uint64_t>(static_cast<uint32_t>(time_hi)) << 32 | time_lo); }
};
static_assert(sizeof(IdEntry) == 12 && alignof(IdEntry) == 4);
struct Engine::Patient {
  // What every panel reads, first (Prefetch fetches the whole struct, these lines first).
  PatientEvents events;
  std::vector<RuleState> rules;
  // Event ids by a 32-bit hash (no allocation per event; the slot's id is checked against
  // the event's); the rare ids whose hash another holds, by text.
  absl::flat_hash_map<uint32_t, IdEntry> ids;
  int64_t evicted_at = INT64_MIN;  // the watermark of the last eviction
  // The earliest watermark at which an eviction would remove anything (an event, a point,
  // an alert, a withdrawn version): a lower bound, lowered by every insertion (to when it is due,
  // or to its time) and made exact by each eviction that walks the state, so
  // that the periodic sweep passes over a patient with nothing due without walking it.
  int64_t evict_due = INT64_MAX;
  int64_t events_due = INT64_MAX;  // the same for the lists alone (withdrawn versions included)

  // An event or withdrawn version is kept that is due at `due` (its time + what the engine keeps).
  void NoteStored(int64_t due) {
    evict_due = std::min(evict_due, due);
    events_due = std::min(events_due, due);
  }
  IdTexts id_texts;  // the ids of the stored events
  // Read off the common path: alerts, timers, collisions.
  std::string id;
  uint64_t id_prefix = 0;  // the first 8 bytes of the id, big-endian: orders as the id does
  uint32_t pending = 0;    // entries of timers_due_ and final_due_ for this patient
  std::unordered_map<std::string, IdEntry> colliding_ids;
  // The rare exact `recorded` times too far from their event's (IdEntry::far), by id.
  absl::flat_hash_map<std::string, int64_t> far_recorded;
  // What evaluations of `for` learned (events.sustained points here); only with a rule
  // that has one. React reports each change of a list to it.
  std::unique_ptr<SustainedMemo> sustained;

  int64_t RecordedOf(std::string_view id, const IdEntry& at) const {
    if (at.far()) {
      auto it = far_recorded.find(absl::string_view(id.data(), id.size()));
      return it == far_recorded.end() ? at.time() : it->second;
    }
    const StoredEvent* stored = StoredWithId(at, id);
    return at.time() + (stored ? id_texts.Tag(stored->id) : 0);
  }

  static uint32_t Hash(std::string_view id) { return EventIdHash(id); }

  // The stored event `at` points to if its id is `id`, else null.
  const StoredEvent* StoredWithId(const IdEntry& at, std::string_view id) const {
    const auto& list = events.by_signal[static_cast<size_t>(at.signal())];
    auto it = list.FirstAt(at.time());
    for (; it != list.end() && it->time == at.time(); ++it) {
      if (id_texts.Text(it->id) == id) return &*it;
    }
    return nullptr;
  }
  bool HasEventWithId(const IdEntry& at, std::string_view id) const { return StoredWithId(at, id) != nullptr; }

  const IdEntry* FindId(std::string_view id) const { return FindId(id, Hash(id)); }
  const IdEntry* FindId(std::string_view id, uint32_t hash) const {
    if (auto it = ids.find(hash); it != ids.end() && HasEventWithId(it->second, id)) return &it->second;
    if (colliding_ids.empty()) return nullptr;
    auto c = colliding_ids.find(std::string(id));
    return c == colliding_ids.end() ? nullptr : &c->second;
  }

  void EraseId(std::string_view id) {
    if (!far_recorded.empty()) far_recorded.erase(absl::string_view(id.data(), id.size()));
    if (auto it = ids.find(Hash(id)); it != ids.end() && HasEventWithId(it->second, id)) {
      ids.erase(it);
      return;
    }
    if (!colliding_ids.empty()) colliding_ids.erase(std::string(id));
  }

  std::string_view IdOf(const StoredEvent& e) const { return id_texts.Text(e.id); }

  // Removes list[first, last), with their ids' texts (not their index entries).
  void EraseEvents(EventList& list, EventList::const_iterator first, EventList::const_iterator last) {
    for (auto it = first; it != last; ++it) id_texts.Drop(it->id);
    list.erase(first, last);
  }

  void CompactIds() {
    if (id_texts.AllDropped()) return id_texts.Clear();
    if (!id_texts.WantsCompaction()) return;
    id_texts.Compact([&](auto&& rewrite) {
      for (auto& list : events.by_signal) {
        for (auto& e : list) rewrite(e.id);
      }
    });
  }

  // Records that the event `id` (hash `hash`) is now at `at`, with one probe of the index
  // in the common case. Returns where the earlier event of that id was, if there was one.
  // Call before the new event is stored, so that a slot's holder is recognised by its own
  // event only.
  std::optional<IdEntry> PutId(std::string_view id, uint32_t hash, IdEntry at) {
    auto [it, fresh] = ids.try_emplace(hash, at);
    if (fresh) {
      // The id may still be kept by its text, from when another id held the slot.
      if (colliding_ids.empty()) return std::nullopt;
      auto c = colliding_ids.find(std::string(id));
      if (c == colliding_ids.end()) return std::nullopt;
      IdEntry old = c->second;
      colliding_ids.erase(c);
      return old;
    }
    if (HasEventWithId(it->second, id)) return std::exchange(it->second, at);
    // Another id with the same hash holds the slot: this one is kept by its text.
    auto [c, new_text] = colliding_ids.try_emplace(std::string(id), at);
    if (new_text) return std::nullopt;
    return std::exchange(c->second, at);
  }
};

}  // namespace cdr::runtime
