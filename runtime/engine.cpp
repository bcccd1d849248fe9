// runtime/engine.cpp: evaluation points, revisions, timers, watermarks, trace, eviction.
//
// The result of an evaluation point (rule, patient, t) is a function of the patient's
// events with time <= t. The engine keeps, per patient and rule, the result of every
// point not yet final and the alerts it has fired. When events change (a new event, a
// late one, a correction), the points they can affect are re-evaluated and the alert
// decisions (including suppression) are recomputed from the earliest changed point; the
// difference with what was fired goes out as retractions and new fires. So, whatever
// the arrival order within the allowed lateness, fires minus retractions equal the
// alerts of the final results.
#include "runtime/engine.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

#include <absl/container/flat_hash_map.h>

#include "runtime/engine_state.h"
#include "runtime/window.h"
#include "stdlib/decimal.h"
#include "stdlib/hash.h"
#include "stdlib/time.h"
#include "stdlib/utf8.h"

namespace cdr::runtime {

using stdlib::Decimal;

namespace {

// `recorded` as an offset from the event time, when it fits 32 bits (IdEntry).
std::optional<int32_t> RecordedOffset(int64_t time, int64_t recorded) {
  int64_t offset = recorded - time;
  if (offset < INT32_MIN || offset > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(offset);
}

// The order of an event's versions: `recorded` first; at equal `recorded`,
// entered-in-error over amended/corrected over final.
int StatusRank(Status s) { return s == Status::EnteredInError ? 2 : s == Status::Amended ? 1 : 0; }

int Rank(const std::string& severity) {
  if (severity == "low") return 0;
  if (severity == "medium") return 1;
  if (severity == "high") return 2;
  return 3;
}

constexpr int64_t kDefaultRetentionMs = 24LL * 3600 * 1000;

}  // namespace

bool Engine::Due::operator<(const Due& o) const {
  if (time != o.time) return time < o.time;
  if (id_prefix != o.id_prefix) return id_prefix < o.id_prefix;
  if (patient != o.patient) {
    if (int c = patient->id.compare(o.patient->id)) return c < 0;
  }
  return rule < o.rule;
}

void Engine::PushDue(DueQueue& queue, int64_t time, Patient& p, size_t rule) {
  ++p.pending;
  queue.Push(Due{time, p.id_prefix, &p, static_cast<int32_t>(rule)});
}

Engine::Patient* Engine::PopDue(DueQueue& queue, int64_t upto, Due& d) {
  if (!queue.PopUpTo(upto, d)) return nullptr;
  --d.patient->pending;
  return d.patient;
}

uint32_t EventIdHash(std::string_view id) {
  uint64_t h = std::hash<std::string_view>{}(id);
  return static_cast<uint32_t>(h ^ h >> 32);
}

std::string AlertId(const std::string& rule, const std::string& version, const std::string& patient, int64_t time) {
  return stdlib::Sha256Hex(rule + "|" + version + "|" + patient + "|" + std::to_string(time)).substr(0, 32);
}

Engine::Engine(const ir::Module& module, EngineOptions options, AlertSink* sink, const Interner* texts)
    : module_(module), options_(options), sink_(sink), trace_(sink && sink->wants_trace()) {
  if (texts) interner_ = *texts;
  // Only the signals some rule reads are stored, each in a list of its own.
  store_of_.assign(module.signals.size(), -1);
  for (const auto& rule : module.rules) {
    for (const auto& s : rule.slots) {
      if (store_of_[static_cast<size_t>(s.signal)] < 0) {
        store_of_[static_cast<size_t>(s.signal)] = static_cast<int32_t>(signal_of_.size());
        signal_of_.push_back(s.signal);
      }
    }
  }
  rules_of_signal_.resize(signal_of_.size());
  keep_ms_ = module.retention_ms > 0 ? module.retention_ms : kDefaultRetentionMs;
  const std::vector<uint8_t> list_needs = WindowNeeds(module, store_of_);
  for (size_t r = 0; r < module.rules.size(); ++r) {
    const ir::Rule& rule = module.rules[r];
    rules_.push_back(Load(module, rule, interner_, store_of_, list_needs));
    for (int32_t list : rules_.back().slot_signal) {
      auto& v = rules_of_signal_[static_cast<size_t>(list)];
      if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
    }
    keep_ms_ = std::max(keep_ms_, rule.longest_window_ms);
    bool unbounded = false;
    for (const auto& b : rule.blocks) {
      for (const auto& in : b.insts) {
        if ((in.op == ir::Op::Agg && in.imm < 0) || in.op == ir::Op::Sequence || in.op == ir::Op::Latest) unbounded = true;
        if (in.op == ir::Op::Sustained) has_sustained_ = true;
      }
    }
    unbounded_.push_back(unbounded);
  }
  // Timers, in the stored lists, once the retention (keep_ms_) is known.
  for (size_t r = 0; r < module.rules.size(); ++r) {
    std::vector<std::pair<int32_t, int64_t>> timers;
    for (const auto& t : module.rules[r].timers) {
      int64_t offset = t.offset_ms + (t.after_retention ? keep_ms_ : 0);
      std::pair<int32_t, int64_t> timer{rules_[r].slot_signal[static_cast<size_t>(t.slot)], offset};
      if (std::find(timers.begin(), timers.end(), timer) == timers.end()) timers.push_back(timer);
    }
    timers_.push_back(std::move(timers));
  }
  // Derived signals some rule reads: each rule publishes its lets that others read.
  outputs_.resize(module.rules.size());
  for (size_t sig = 0; sig < module.signals.size(); ++sig) {
    const ir::Signal& s = module.signals[sig];
    int32_t store = store_of_[sig];
    if (!s.derived() || store < 0) continue;
    outputs_[static_cast<size_t>(s.rule)].emplace_back(s.let, store);
  }
  affected_flags_.assign(module.rules.size(), 0);
  reads_.assign(rules_.size() * signal_of_.size(), 0);
  for (size_t r = 0; r < rules_.size(); ++r) {
    for (int32_t list : rules_[r].slot_signal) reads_[r * signal_of_.size() + static_cast<size_t>(list)] = 1;
  }
  coverage_.resize(module.rules.size());
  counters_.fired_by.assign(module.rules.size() * Counters::kSeverities, 0);
  counters_.retracted_by.assign(module.rules.size() * Counters::kSeverities, 0);
  regs_.resize(module.rules.size());
  regs_primed_.assign(module.rules.size(), 0);
  if (!options_.native.empty()) InstallNative(options_.native);
}

void Engine::InstallNative(const std::vector<std::vector<NativeBlock>>& code) {
  if (code.size() != rules_.size()) return;
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (code[r].size() != rules_[r].ir->blocks.size()) return;
  }
  for (size_t r = 0; r < rules_.size(); ++r) rules_[r].native = code[r];
  native_ = true;
  native_from_event_ = ingested_;
}

Engine::~Engine() = default;

const Coverage* Engine::CoverageOf(size_t rule) const {
  return rule < coverage_.size() ? &coverage_[rule] : nullptr;
}

Engine::Outcome Engine::Ingest(const Event& e) {
  if (!native_ && options_.take_native) {
    std::vector<std::vector<NativeBlock>> code;
    if (options_.take_native(code)) InstallNative(code);
  }
  ++ingested_;
  // Late against the watermark at its arrival: the latest time of the events taken before
  // it (the group being gathered included), minus the allowed lateness. The engine's own
  // watermark_ moves only when a group is applied, one group behind.
  const int64_t watermark = latest_ == INT64_MIN ? INT64_MIN : latest_ - options_.allowed_lateness_ms;
  if (e.time < watermark) {
    RefuseLate(e, "later than the allowed lateness");
    return Outcome::Late;
  }
  // Taken: the stream has reached its time, which the group it ends learns in Flush.
  latest_ = std::max(latest_, e.time);
  if (group_size_ > 0 && (group_[0].fields.time != e.time || !SameText(group_[0].patient(), e.patient))) Flush();
  // Entered in error for an id not known: nothing to remove now, but the engine keeps it
  // (in the withdrawn list), so that a version recorded before it, arriving later, stays out.
  bool unknown_correction = false;
  if (e.status == Status::EnteredInError) {
    // Events of signals no rule reads are not stored: removing one changes nothing.
    bool known = store_of_[static_cast<size_t>(e.signal)] < 0;
    if (auto it = patients_.find(Key(e.patient)); it != patients_.end()) {
      const Patient& p = *it->second;
      known = known || p.FindId(e.id) != nullptr;
    }
    for (size_t i = 0; i < group_size_; ++i) known = known || group_[i].id() == e.id;
    if (!known) {
      ++counters_.ignored;
      unknown_correction = true;
    }
  }
  // The id's hash, once: Prefetch fetches its index slot, Apply looks it up.
  uint32_t id_hash = Patient::Hash(e.id);
  Prefetch(e, group_size_, id_hash);
  // Group slots are reused, so their strings keep their capacity: no allocation per event.
  if (group_size_ == group_.size()) {
    group_.emplace_back();
    group_id_hash_.emplace_back();
  }
  group_id_hash_[group_size_] = id_hash;
  group_[group_size_++].Take(e, watermark);
  return unknown_correction ? Outcome::UnknownCorrection : Outcome::Applied;
}

void Engine::Prefetch(const Event& e, size_t index, uint32_t id_hash) {
  // A patient's state is cold when its next group arrives (a stream interleaves many
  // patients), and reaching it is a chain of dependent loads: the patient's slot, the
  // patient, its lists and rule states, their newest entries. Each event of a group takes
  // a few hundred nanoseconds to read and decode, so the chain is walked one link per
  // event of the group, with prefetches, and is in cache by the time Flush needs it.
  // Only hints: nothing here changes state, and a short group simply prefetches less.
  auto line = [](const void* a) { __builtin_prefetch(a, 1, 3); };
  auto lines = [&](const void* a, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) line(static_cast<const char*>(a) + off);
  };
  if (index == 0) {
    prefetched_ = nullptr;
    patients_.prefetch(Key(e.patient));
    return;
  }
  if (index == 1) {
    auto it = patients_.find(Key(e.patient));
    if (it == patients_.end()) return;
    prefetched_ = it->second.get();
    lines(prefetched_, sizeof(Patient));
    return;
  }
  const Patient* p = prefetched_;
  if (!p) return;
  if (index == 2) {
    lines(p->events.by_signal.data(), p->events.by_signal.size() * sizeof(EventList));
    lines(p->rules.data(), p->rules.size() * sizeof(RuleState));
  } else if (index == 3) {
    for (const auto& list : p->events.by_signal) {
      if (!list.empty()) line(&list.back());
    }
    for (const auto& rs : p->rules) {
      if (!rs.points.empty()) line(&*(rs.points.end() - 1));
      if (!rs.fired.empty()) line(&*(rs.fired.end() - 1));
    }
  }
  p->ids.prefetch(id_hash);
}

void Engine::AdvanceTo(int64_t time) {
  latest_ = std::max(latest_, time);
  if (group_size_ > 0) Flush();
  FireTimers(time);
  DecidePending(latest_);
  if (time > stream_time_) {
    stream_time_ = time;
    AdvanceTime(stream_time_);
  }
}

void Engine::Finish() {
  if (group_size_ > 0) Flush();
  // The input is complete: every point's result is final, and its alerts are decided
  // (timer points after the last event's time are not evaluated: Flush fired those before).
  latest_ = INT64_MAX;
  DecidePending(INT64_MAX);
  Finalize(INT64_MAX);
}

void Engine::Apply(Patient& p, const Event& e, uint32_t hash, int64_t watermark,
                   std::vector<std::pair<int32_t, int64_t>>& inserted, std::vector<std::pair<int32_t, int64_t>>& removed) {
  // The versions of one id are ordered by `recorded`, then status rank (VersionOrder): the
  // greatest is in force, whatever order they arrive in. A version older than the one in
  // force is superseded and changes nothing. A newer one that would remove a stored
  // version from before the watermark at its arrival (final points read it) is late.
  auto refuse_late = [&](const IdEntry& old) {
    RefuseLate(e, "replaces the version of its id at " + stdlib::FormatTime(old.time()) +
                      ", before the watermark at its arrival (" + stdlib::FormatTime(watermark) +
                      "): later than the allowed lateness");
  };
  auto remove = [&](const IdEntry& old) {
    auto& list = p.events.by_signal[static_cast<size_t>(old.signal())];
    int64_t old_time = old.time();
    auto pos = list.FirstAt(old_time);
    while (pos != list.end() && pos->time == old_time && p.IdOf(*pos) != e.id) ++pos;
    if (pos != list.end() && pos->time == old_time) p.EraseEvents(list, pos, pos + 1);
    if (old.signal() != withdrawn_list()) removed.emplace_back(old.signal(), old_time);
  };
  const int rank = StatusRank(e.status);
  int32_t store = e.status == Status::EnteredInError ? -1 : store_of_[static_cast<size_t>(e.signal)];
  // Not stored (removed in error, or a signal no rule reads): this version is kept in
  // force all the same, in the withdrawn list, which no rule reads.
  const bool withdrawn = store < 0;
  if (withdrawn) store = withdrawn_list();
  // One probe of the index finds the version in force or takes a slot.
  const std::optional<int32_t> offset = RecordedOffset(e.time, e.recorded);
  IdEntry entry{store, e.time, !offset, rank};
  if (std::optional<IdEntry> old = p.PutId(e.id, hash, entry)) {
    bool older = VersionOrder(p, *old, e) >= 0;
    // Replacing a withdrawn version changes no point at its time: never late.
    bool late = old->time() < watermark && old->signal() != withdrawn_list();
    if (older || late) {
      p.PutId(e.id, hash, *old);  // the version in force stays
      if (older) {
        ++counters_.superseded;
      } else {
        refuse_late(*old);
      }
      return;
    }
    remove(*old);
  }
  if (entry.far()) {
    p.far_recorded[std::string(e.id)] = e.recorded;
  } else if (!p.far_recorded.empty()) {
    p.far_recorded.erase(Key(e.id));
  }
  auto& list = p.events.by_signal[static_cast<size_t>(store)];
  uint32_t id_ref = p.id_texts.Add(e.id, offset.value_or(0));
  const int64_t value = withdrawn ? 0 : e.value;
  const bool has_value = !withdrawn && e.has_value, implausible = !withdrawn && e.implausible;
  if (list.empty() || list.back().time < e.time || (list.back().time == e.time && p.IdOf(list.back()) < e.id)) {
    list.emplace_back(e.time, value, has_value, implausible, id_ref);  // in order: the common case
  } else {
    StoredEvent stored{e.time, value, has_value, implausible, id_ref};
    auto pos = std::partition_point(list.begin(), list.end(), [&](const StoredEvent& a) {
      return a.time != e.time ? a.time < e.time : p.IdOf(a) <= e.id;
    });
    list.insert(pos, stored);
  }
  p.NoteStored(e.time + keep_ms_);
  if (!withdrawn) inserted.emplace_back(store, e.time);
  ++counters_.applied;
}

void Engine::RefuseLate(const Event& e, const std::string& reason) {
  ++counters_.late;
  if (sink_) sink_->Late(Refusal{reason, e.source_line, e.source, e.source.size()});
}

int Engine::VersionOrder(const Patient& p, const IdEntry& old, const Event& e) const {
  int64_t recorded = p.RecordedOf(e.id, old);
  if (recorded != e.recorded) return recorded < e.recorded ? -1 : 1;
  if (old.rank() != StatusRank(e.status)) return old.rank() < StatusRank(e.status) ? -1 : 1;
  return -1;  // nothing tells them apart: the later arrival is in force
}

bool Engine::IsPoint(const Patient& p, size_t r, int64_t t) const {
  const LoadedRule& rule = rules_[r];
  auto has_event_at = [&](int32_t sig, int64_t when) {
    const auto& list = p.events.by_signal[static_cast<size_t>(sig)];
    auto it = list.FirstAt(when);
    return it != list.end() && it->time == when;
  };
  for (int32_t sig : rule.slot_signal) {
    if (has_event_at(sig, t)) return true;
  }
  if (t <= timers_upto_) {
    for (const auto& [sig, off] : timers_[r]) {
      if (has_event_at(sig, t - off)) return true;
    }
  }
  return false;
}

void Engine::Flush() {
  size_t count = group_size_;
  group_size_ = 0;
  // The group's slots are not touched until the next Ingest: no copy of the id.
  const std::string_view pid = group_[0].patient();
  int64_t t = group_[0].fields.time;
  // Prefetch found the patient already when the group has two events or more.
  Patient* found = count > 1 ? prefetched_ : nullptr;
  if (!found) {
    auto& slot = patients_[Key(pid)];
    if (!slot) {
      patients_seen_.insert(std::hash<std::string_view>{}(pid));  // 64 bits: a count of millions stays exact
      slot = std::make_unique<Patient>();
      slot->id = pid;
      slot->id_prefix = IdPrefix(pid);
      slot->events.by_signal.resize(lists());
      slot->rules.resize(rules_.size());
      if (has_sustained_) {
        slot->sustained = std::make_unique<SustainedMemo>();
        slot->events.sustained = slot->sustained.get();
      }
    }
    found = slot.get();
  }
  Patient& p = *found;
  // The stream has passed the times before this group's: their timer points come first.
  FireTimers(t - 1);
  auto& inserted = inserted_;
  auto& removed = removed_;
  inserted.clear();
  removed.clear();
  for (size_t i = 0; i < count; ++i) {
    Apply(p, group_[i].View(), group_id_hash_[i], group_[i].watermark, inserted, removed);
  }
  stream_time_ = std::max(stream_time_, t);

  React(p);
  // The stream has reached latest_ (the event that ended this group included): the timer
  // points and waiting decisions before it come now, the timers first (a timer point's
  // Scan decides the points after it too).
  FireTimers(latest_ - 1);
  DecidePending(latest_);
  AdvanceTime(stream_time_);
  // Evict a patient's old state at most once per hour of watermark progress.
  if (watermark_ != INT64_MIN && (p.evicted_at == INT64_MIN || watermark_ - p.evicted_at >= 3600000)) Evict(p);
  // Now and then (each 6 hours of watermark progress), sweep every patient: those who sent
  // nothing lately still lose their old state, and patients with none left are dropped.
  if (watermark_ != INT64_MIN && swept_at_ == INT64_MIN) swept_at_ = watermark_;
  if (watermark_ != INT64_MIN && watermark_ - swept_at_ >= 6 * 3600000LL) {
    swept_at_ = watermark_;
    for (auto it = patients_.begin(); it != patients_.end();) {
      Evict(*it->second);
      bool empty = it->second->ids.empty() && it->second->colliding_ids.empty() && it->second->pending == 0;
      for (const auto& rs : it->second->rules) empty = empty && rs.points.empty() && rs.fired.empty();
      if (empty) {
        patients_.erase(it++);
      } else {
        ++it;
      }
    }
  }
}

void Engine::React(Patient& p) {
  // The rules run in module order, producers of derived signals first: what a rule
  // publishes while it is processed (appended to inserted_/removed_) reaches its readers,
  // which come later. The lists are indexed, not iterated, since they grow meanwhile.
  auto& inserted = inserted_;
  auto& removed = removed_;
  std::fill(affected_flags_.begin(), affected_flags_.end(), 0);
  size_t marked_inserted = 0, marked_removed = 0;
  // A reload's backfill starts with changes only some rules are to see (react_only_);
  // what rules publish meanwhile reaches every reader.
  const size_t initial_inserted = react_only_ ? inserted.size() : 0;
  for (size_t r = 0; r < rules_.size(); ++r) {
    for (; marked_inserted < inserted.size(); ++marked_inserted) {
      for (size_t q : rules_of_signal_[static_cast<size_t>(inserted[marked_inserted].first)]) {
        if (marked_inserted >= initial_inserted || (*react_only_)[q]) affected_flags_[q] = 1;
      }
    }
    for (; marked_removed < removed.size(); ++marked_removed) {
      for (size_t q : rules_of_signal_[static_cast<size_t>(removed[marked_removed].first)]) affected_flags_[q] = 1;
    }
    if (!affected_flags_[r]) continue;
    RuleState& rs = p.rules[r];
    const LoadedRule& rule = rules_[r];
    const uint8_t* reads_list = &reads_[r * signal_of_.size()];
    auto reads = [&](int32_t list) { return reads_list[static_cast<size_t>(list)] != 0; };
    // This rule sees the changes made before it runs (its own are for later rules): their
    // times, in order; alerts are decided anew from the earliest.
    size_t n_inserted = inserted.size(), n_removed = removed.size();
    auto& times = changed_times_;
    times.clear();
    // New points: the times of new events (each once: a group's events share their
    // time, so equal neighbours are taken once), noted as changed, and the timer points
    // they start; then the times of removed events.
    for (size_t i = 0; i < n_inserted; ++i) {
      auto [sig, when] = inserted[i];
      if (!reads(sig)) continue;
      if (times.empty() || times.back() != when) {
        times.push_back(when);
        p.evict_due = std::min(p.evict_due, when);
        if (rs.points.try_emplace(when).second && trace_) PushDue(final_due_, when, p, r);
      }
      for (const auto& [tsig, off] : timers_[r]) {
        if (tsig != sig) continue;
        int64_t due = when + off;
        if (due <= timers_upto_) {
          if (rs.points.try_emplace(due).second && trace_) PushDue(final_due_, due, p, r);
        } else {
          PushDue(timers_due_, due, p, r);
        }
      }
    }
    for (size_t i = 0; i < n_removed; ++i) {
      auto when = removed[i].second;
      if (reads(removed[i].first) && (times.empty() || times.back() != when)) times.push_back(when);
    }
    if (times.empty()) continue;
    if (times.size() > 1) std::sort(times.begin(), times.end());
    const int64_t from = times.front();
    // What the rule's `for` conditions were known to be from `from` on no longer holds.
    if (p.sustained) p.sustained->Changed(rule.ir, from);
    // Points whose only reason was a removed event are no longer points, nor are the
    // derived events they published.
    auto drop = [&](int64_t t) {
      if (IsPoint(p, r, t) || !rs.points.erase(t)) return;
      for (const auto& [let, store] : outputs_[r]) Publish(p, store, t, Value{});
    };
    for (size_t i = 0; i < n_removed; ++i) {
      auto [sig, when] = removed[i];
      if (!reads(sig)) continue;
      drop(when);
      for (const auto& [tsig, off] : timers_[r]) {
        if (tsig == sig) drop(when + off);
      }
    }
    // A change at t can affect the points in [t, t + the rule's longest window]; a group
    // may change times far apart (a new event and corrections of old ones), so the
    // points of each change's interval are evaluated, not those after the earliest only.
    if (unbounded_[r]) {
      Update(p, r, from, INT64_MAX);
    } else {
      const int64_t window = rule.ir->longest_window_ms;
      for (size_t i = 0; i < times.size();) {
        int64_t lo = times[i], hi = times[i] + window;
        for (++i; i < times.size() && times[i] <= hi; ++i) hi = std::max(hi, times[i] + window);
        Update(p, r, lo, hi);
      }
    }
    Scan(p, r, from);
  }
}

void Engine::Publish(Patient& p, int32_t store, int64_t t, const Value& v) {
  auto& list = p.events.by_signal[static_cast<size_t>(store)];
  auto pos = list.FirstAt(t);
  bool have = pos != list.end() && pos->time == t;
  if (!v.known) {
    if (!have) return;
    list.erase(pos);
    removed_.emplace_back(store, t);
    return;
  }
  if (have) {
    if (pos->value == v.v) return;
    list.SetValue(pos, v.v);  // a new value at a known point: its readers re-evaluate from t
  } else {
    list.insert(pos, StoredEvent{t, v.v, true, false, 0});
    p.NoteStored(t + keep_ms_);
  }
  inserted_.emplace_back(store, t);
}

void Engine::Update(Patient& p, size_t r, int64_t from, int64_t to) {
  RuleState& rs = p.rules[r];
  for (auto it = rs.points.lower_bound(from); it != rs.points.end() && it->first <= to; ++it) {
    EvaluatePoint(p, r, it->first, it->second);
  }
}

std::vector<Value>& Engine::Eval(size_t r, const Patient& p, int64_t t, std::vector<std::vector<EventRef>>* evidence,
                                  Coverage* coverage, Wanted wanted) {
  // Each rule has registers of its own: after its first evaluation they hold its
  // constants, and the interpreter writes only what it computes.
  auto& regs = regs_[r];
  Evaluate(rules_[r], p.events, t, interner_, regs, evidence, coverage, keep_ms_, wanted, regs_primed_[r] != 0);
  regs_primed_[r] = 1;
  return regs;
}

void Engine::EvaluatePoint(Patient& p, size_t r, int64_t t, Point& point) {
  const LoadedRule& rule = rules_[r];
  static_assert(sizeof(std::pair<int64_t, Point>) == 16, "a point and its time take 16 bytes");
  ++counters_.evaluations;
  // Evidence is collected only when an alert is fired or compared (Scan): a second pass,
  // rarely needed.
  const std::vector<Value>& regs = Eval(r, p, t, nullptr, coverage_enabled_ ? &coverage_[r] : nullptr, Wanted::Whens);
  for (const auto& [let, store] : outputs_[r]) {
    Publish(p, store, t, regs[static_cast<size_t>(rule.ir->lets[static_cast<size_t>(let)].inst)]);
  }
  point.first_held = -1;
  const auto& whens = rule.ir->whens;
  for (size_t i = 0; i < whens.size(); ++i) {
    const Value& c = regs[static_cast<size_t>(whens[i].cond)];
    if (c.known && c.v) {
      point.first_held = static_cast<int32_t>(i);
      break;
    }
  }
}

const std::vector<Value>& Engine::EvalForAlert(const Patient& p, size_t r, int64_t t) {
  return Eval(r, p, t, &evidence_, nullptr, Wanted::AllLets);
}

uint64_t Engine::Content(const Patient& p, size_t r, const Point& point, const std::vector<Value>& regs,
                         const std::vector<std::vector<EventRef>>& evidence) const {
  // What the alert would say: its clause, the lets and the evidence (EvalForAlert's).
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ULL; };
  mix(static_cast<uint64_t>(point.first_held));
  for (const ir::Let& let : rules_[r].ir->lets) {
    const Value& v = regs[static_cast<size_t>(let.inst)];
    mix(v.known);
    mix(static_cast<uint64_t>(v.v));
  }
  for (const auto& site : evidence) {
    mix(site.size());
    for (const EventRef& ref : site) {
      mix(static_cast<uint64_t>(ref.event->time));
      mix(static_cast<uint64_t>(ref.event->value));
      mix(std::hash<std::string_view>{}(p.IdOf(*ref.event)));
    }
  }
  return h;
}

void Engine::Scan(Patient& p, size_t r, int64_t from) {
  RuleState& rs = p.rules[r];
  // Settled: only the points the stream has passed are decided; a held point after them
  // waits (it can still change with events of its own time). Eager: every point.
  const int64_t upto = options_.emit == Emit::Eager ? INT64_MAX : latest_;
  // A point of this rule before `from` still waiting to be decided, which the stream has
  // now passed, is decided first, in time order: deciding from `from` without it (a timer
  // point fired as the stream passed it, ahead of the waiting point's own decision) would
  // fire what the waiting point's alert suppresses, then retract it.
  if (rs.undecided_from < from && rs.undecided_from < upto) {
    from = rs.undecided_from;
    rs.undecided_from = INT64_MAX;  // its due entry is now stale
  }
  // Nothing to decide when no alert stands from `from` on and no point there holds (the
  // common case: a new point where no clause held).
  if (rs.fired.lower_bound(from) == rs.fired.end()) {
    bool held = false;
    for (auto it = rs.points.lower_bound(from); it != rs.points.end() && !held; ++it) held = it->second.first_held >= 0;
    if (!held) return;
  }
  const ir::Rule& rule = *rules_[r].ir;
  // The last alert before `from` still stands and may suppress later ones.
  bool have_last = false;
  int64_t last_time = 0;
  int last_rank = -1;
  auto prev = rs.fired.lower_bound(from);
  if (prev != rs.fired.begin()) {
    --prev;
    have_last = true;
    last_time = prev->first;
    last_rank = prev->second.rank;
  }
  auto& desired = desired_;
  desired.clear();
  for (auto it = rs.points.lower_bound(from); it != rs.points.end(); ++it) {
    const Point& pt = it->second;
    if (pt.first_held < 0) continue;
    if (it->first >= upto) {
      // Not passed yet: decided when the stream passes it (DecidePending).
      if (it->first < rs.undecided_from) {
        rs.undecided_from = it->first;
        PushDue(decide_due_, it->first, p, r);
      }
      break;
    }
    int rank = Rank(rule.whens[static_cast<size_t>(pt.first_held)].severity);
    bool suppressed = have_last && it->first - last_time < rule.suppress_ms && rank <= last_rank;
    if (suppressed) continue;
    desired.push_back(Desired{it->first, rank, &pt});
    have_last = true;
    last_time = it->first;
    last_rank = rank;
  }
  // Retractions first, then fires, each in time order. `desired` is in time order.
  auto find = [&](int64_t t) -> const Desired* {
    auto d = std::lower_bound(desired.begin(), desired.end(), t, [](const Desired& x, int64_t k) { return x.time < k; });
    return d != desired.end() && d->time == t ? &*d : nullptr;
  };
  // A point's content is computed only where an alert stands to compare it with: the
  // events it is computed from are those its evaluation read (points at or after `from`
  // are not final, so nothing they read has been evicted).
  auto changed = [&](const Desired& d, const Fired& f) {
    return d.rank != f.rank || Content(p, r, *d.point, EvalForAlert(p, r, d.time), evidence_) != f.content;
  };
  // Alerts stand only at points already decided (before `upto`): the stream time only grows.
  for (auto it = rs.fired.lower_bound(from); it != rs.fired.end() && it->first < upto;) {
    const Desired* d = find(it->first);
    if (!d || changed(*d, it->second)) {
      EmitAlert(AlertRecord::Action::Retract, p, r, it->first, it->second.body);
      ++counters_.retracted;
      ++counters_.retracted_by[r * Counters::kSeverities + static_cast<size_t>(it->second.rank)];
      it = rs.fired.erase(it);
    } else {
      ++it;
    }
  }
  for (const Desired& d : desired) {
    if (rs.fired.count(d.time)) continue;
    const std::vector<Value>& regs = EvalForAlert(p, r, d.time);
    Fired f{d.rank, Content(p, r, *d.point, regs, evidence_), MakeAlertBody(p, r, *d.point, regs, evidence_)};
    EmitAlert(AlertRecord::Action::Fire, p, r, d.time, f.body);
    ++counters_.fired;
    ++counters_.fired_by[r * Counters::kSeverities + static_cast<size_t>(d.rank)];
    rs.fired.emplace(d.time, std::move(f));
    p.evict_due = std::min(p.evict_due, d.time);
  }
}

void Engine::DecideDue(int64_t before) {
  Due d;
  while (Patient* due = PopDue(decide_due_, before == INT64_MIN ? INT64_MIN : before - 1, d)) {
    RuleState& rs = due->rules[static_cast<size_t>(d.rule)];
    // An entry is current when it is the rule's earliest waiting point; others are stale
    // (that point was decided, or an earlier one took its place).
    if (rs.undecided_from != d.time) continue;
    rs.undecided_from = INT64_MAX;
    Scan(*due, static_cast<size_t>(d.rule), d.time);
  }
}

void Engine::AdvanceTime(int64_t stream_time) {
  int64_t wm = stream_time == INT64_MIN ? INT64_MIN : stream_time - options_.allowed_lateness_ms;
  if (wm > watermark_) {
    watermark_ = wm;
    Finalize(watermark_);
  }
}

void Engine::FireDueTimers(int64_t upto) {
  // Timer points whose time the stream has passed are evaluated now: by then every
  // patient's events of that time are in, so a timer does not fire ahead of a panel of
  // its own time (from another patient's events of that time) only to be retracted.
  Due d;
  while (Patient* due = PopDue(timers_due_, upto, d)) {
    Patient& p = *due;
    size_t r = static_cast<size_t>(d.rule);
    // Already a point (most timers fall on a later event's time): nothing to do. Asked
    // first, since IsPoint searches the rule's lists.
    auto& points = p.rules[r].points;
    if (points.find(d.time) != points.end()) continue;
    if (!IsPoint(p, r, d.time)) continue;  // its event was removed
    Point& point = points.try_emplace(d.time).first->second;
    p.evict_due = std::min(p.evict_due, d.time);
    if (trace_) PushDue(final_due_, d.time, p, r);
    inserted_.clear();
    removed_.clear();
    EvaluatePoint(p, r, d.time, point);
    Scan(p, r, d.time);
    if (!inserted_.empty() || !removed_.empty()) React(p);  // its readers
  }
}

void Engine::Finalize(int64_t upto) {
  Due d;
  while (Patient* due = PopDue(final_due_, upto - 1, d)) {  // an event at the watermark is on time
    Patient& p = *due;
    size_t r = static_cast<size_t>(d.rule);
    auto pt = p.rules[r].points.find(d.time);
    if (pt == p.rules[r].points.end() || pt->second.traced) continue;
    pt->second.traced = true;
    if (!trace_) continue;
    const ir::Rule& rule = *rules_[r].ir;
    const std::vector<Value>& regs = Eval(r, p, d.time, nullptr, nullptr, Wanted::AllLets);
    trace_values_.resize(rule.lets.size());
    for (size_t i = 0; i < rule.lets.size(); ++i) {
      SetDatum(trace_values_[i], rule.lets[i], regs[static_cast<size_t>(rule.lets[i].inst)]);
    }
    trace_held_.clear();
    for (size_t i = 0; i < rule.whens.size(); ++i) {
      const Value& c = regs[static_cast<size_t>(rule.whens[i].cond)];
      if (c.known && c.v) trace_held_.push_back(static_cast<int>(i));
    }
    sink_->Trace(TraceRecord{&rule, p.id, d.time, &trace_values_, &trace_held_});
    ++counters_.trace_records;
  }
}

void Engine::Evict(Patient& p) {
  if (watermark_ == INT64_MIN) return;
  p.evicted_at = watermark_;
  // Nothing is due: nothing to do.
  if (p.evict_due >= watermark_) return;
  int64_t cutoff = watermark_ - keep_ms_;
  // Each walk stops at the first thing kept, and notes when that is due: an event or
  // withdrawn version at t when the watermark passes t + keep_ms_ (events_due), a point when it
  // passes t, an alert when it passes t + the rule's suppression.
  // The event lists (each a cache miss) only when one of their events is due: most
  // evictions only finish the points behind the watermark.
  if (p.events_due < watermark_) {
    int64_t events_due = INT64_MAX;
    for (auto& list : p.events.by_signal) {
      size_t n = 0;
      while (n < list.size() && list[n].time < cutoff) ++n;
      for (size_t i = 0; i < n; ++i) p.EraseId(p.IdOf(list[i]));
      if (n) {
        p.EraseEvents(list, list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
        list.ReleaseUnused();
      }
      if (!list.empty()) events_due = std::min(events_due, list[0].time + keep_ms_);
    }
    p.CompactIds();
    // An Abseil map keeps its slots when entries leave: given back once mostly empty.
    if (p.ids.capacity() >= 16 && p.ids.size() * 4 < p.ids.capacity()) p.ids.rehash(0);
    p.events_due = events_due;
  }
  int64_t due = p.events_due;
  for (size_t r = 0; r < p.rules.size(); ++r) {
    RuleState& rs = p.rules[r];
    // Points before the watermark are final (and traced, when there is a trace).
    auto it = rs.points.begin();
    while (it != rs.points.end() && it->first < watermark_ && (it->second.traced || !trace_)) ++it;
    rs.points.erase_front(it);
    if (!rs.points.empty()) due = std::min(due, rs.points.begin()->first);
    const int64_t suppress = rules_[r].ir->suppress_ms;
    auto f = rs.fired.begin();
    while (f != rs.fired.end() && f->first < watermark_ - suppress) ++f;
    rs.fired.erase_front(f);
    if (!rs.fired.empty()) due = std::min(due, rs.fired.begin()->first + suppress);
  }
  p.evict_due = due;
}

void Engine::SetDatum(Datum& d, const ir::Let& let, const Value& v) const {
  d.v = v.v;
  if (!v.known) {
    d.kind = Datum::Kind::Unknown;
    d.v = 0;
    return;
  }
  switch (let.kind) {
    case ir::Kind::Bool: d.kind = Datum::Kind::Bool; d.v = v.v != 0; return;
    case ir::Kind::Int: d.kind = Datum::Kind::Int; return;
    case ir::Kind::Dec: d.kind = Datum::Kind::Dec; return;
    case ir::Kind::Time: d.kind = Datum::Kind::Time; return;
    case ir::Kind::Text:
      d.kind = Datum::Kind::Text;
      d.text = interner_.Text(v.v);
      d.v = 0;
      return;
  }
}

void Engine::SetDatum(Datum& d, int32_t signal, const StoredEvent& e) const {
  d.v = e.value;
  if (!e.has_value) {
    d.kind = Datum::Kind::Unknown;
    d.v = 0;
    return;
  }
  switch (module_.signals[static_cast<size_t>(signal)].type) {
    case ir::SignalType::Boolean: d.kind = Datum::Kind::Bool; d.v = e.value != 0; return;
    case ir::SignalType::Integer: d.kind = Datum::Kind::Int; return;
    case ir::SignalType::Quantity:
    case ir::SignalType::Decimal: d.kind = Datum::Kind::Dec; return;
    default:
      d.kind = Datum::Kind::Text;
      d.text = interner_.Text(e.value);
      d.v = 0;
      return;
  }
}

void Engine::EmitAlert(AlertRecord::Action action, const Patient& p, size_t r, int64_t t, const AlertBody& body) {
  if (!sink_) return;
  const ir::Rule& rule = *rules_[r].ir;
  std::string id = AlertId(rule.id, rule.version, p.id, t);
  sink_->Alert(AlertRecord{action, backfilling_, &rule, id, p.id, t, &body});
}

AlertBody Engine::MakeAlertBody(const Patient& p, size_t r, const Point& point, const std::vector<Value>& regs,
                                const std::vector<std::vector<EventRef>>& evidence) const {
  const ir::Rule& rule = *rules_[r].ir;
  AlertBody body;
  body.clause = point.first_held;
  body.values.resize(rule.lets.size());
  for (size_t i = 0; i < rule.lets.size(); ++i) {
    SetDatum(body.values[i], rule.lets[i], regs[static_cast<size_t>(rule.lets[i].inst)]);
  }
  const ir::When& w = rule.whens[static_cast<size_t>(point.first_held)];
  for (const auto& part : w.message) {
    if (part.let < 0) {
      body.message += part.text;
      continue;
    }
    const ir::Let& let = rule.lets[static_cast<size_t>(part.let)];
    const Datum& d = body.values[static_cast<size_t>(part.let)];
    if (part.places >= 0 && d.kind == Datum::Kind::Dec) {
      body.message += stdlib::Decimal::FromRaw(d.v).ToFixed(part.places);
    } else if (part.places >= 0 && d.kind == Datum::Kind::Int) {
      body.message += stdlib::Decimal::FromRaw(d.v * stdlib::Decimal::kOne).ToFixed(part.places);
    } else {
      body.message += DatumText(d);
    }
    if (d.kind != Datum::Kind::Unknown && d.kind != Datum::Kind::Text && !let.unit.empty() && let.unit != "1") {
      body.message += " " + let.unit;
    }
  }
  body.evidence.resize(std::min(rule.evidence.size(), evidence.size()));
  for (size_t i = 0; i < body.evidence.size(); ++i) {
    body.evidence[i].resize(evidence[i].size());
    for (size_t k = 0; k < evidence[i].size(); ++k) {
      const EventRef& ref = evidence[i][k];
      EvidenceEvent& e = body.evidence[i][k];
      // A derived event is named by the id its rule's evaluation point has (as an alert).
      int32_t sig = signal_of_[static_cast<size_t>(ref.signal)];
      const ir::Signal& signal = module_.signals[static_cast<size_t>(sig)];
      if (signal.derived()) {
        const ir::Rule& producer = module_.rules[static_cast<size_t>(signal.rule)];
        e.id = AlertId(producer.id, producer.version, p.id, ref.event->time);
      } else {
        e.id = std::string(p.IdOf(*ref.event));
      }
      e.time = ref.event->time;
      SetDatum(e.value, sig, *ref.event);
      e.implausible = ref.event->implausible;
    }
  }
  return body;
}

}  // namespace cdr::runtime
