// runtime/engine_reload.cpp: an engine of new rules taking over a running engine's state
// (Engine::Reload, runtime/engine.h; docs/operations.md, "Reloading rules").
#include <algorithm>
#include <map>

#include "runtime/engine.h"
#include "runtime/engine_state.h"
#include "runtime/window.h"

namespace cdr::runtime {

namespace {

// A signal's name across two modules: base signals by schema and name, derived ones by
// their name (`rule.let`).
std::string SignalKey(const ir::Signal& s) { return s.derived() ? "derived " + s.name : s.schema + "." + s.name; }

}  // namespace

std::unique_ptr<Engine> Engine::Reload(const ir::Module& module, EngineOptions options, AlertSink* sink, Engine& from,
                                       std::string& error) {
  const ir::Module& old = from.module_;
  // What the stored events mean must not change under them.
  std::map<std::string, size_t> old_signal;
  for (size_t i = 0; i < old.signals.size(); ++i) old_signal[SignalKey(old.signals[i])] = i;
  for (const ir::Signal& s : module.signals) {
    auto it = old_signal.find(SignalKey(s));
    if (it == old_signal.end()) continue;
    const ir::Signal& was = old.signals[it->second];
    if (was.type != s.type || was.unit != s.unit) {
      error = "signal " + SignalKey(s) + " changed its " + (was.type != s.type ? "type" : "unit '" + was.unit + "' to '" + s.unit + "'") +
              ": the events kept cannot follow; restart with the new schema instead";
      return nullptr;
    }
  }
  from.FlushPending();
  auto e = std::unique_ptr<Engine>(new Engine(module, std::move(options), sink, &from.interner_));
  Engine& to = *e;

  // Rules: unchanged when the id, hash and mode (live or shadow: where its alerts go) are
  // the same and every derived signal the rule reads comes from an unchanged rule (rules
  // run producers first: one pass in order). A rule moved between live and shadow is a
  // changed rule: its alerts so far stand where they were written, and its alerts over the
  // kept history are written anew where they now go; a retraction never goes to an output
  // that did not get the fire.
  std::map<std::string, size_t> old_rule;
  for (size_t r = 0; r < old.rules.size(); ++r) old_rule[old.rules[r].id] = r;
  std::vector<int32_t> rule_from(module.rules.size(), -1);  // new rule -> old rule it continues
  std::vector<uint8_t> changed(module.rules.size(), 0);
  for (size_t r = 0; r < module.rules.size(); ++r) {
    const ir::Rule& rule = module.rules[r];
    auto it = old_rule.find(rule.id);
    bool same = it != old_rule.end() && old.rules[it->second].hash == rule.hash &&
                old.rules[it->second].shadow == rule.shadow;
    for (const auto& slot : rule.slots) {
      const ir::Signal& s = module.signals[static_cast<size_t>(slot.signal)];
      if (s.derived() && changed[static_cast<size_t>(s.rule)]) same = false;
    }
    if (same) {
      rule_from[r] = static_cast<int32_t>(it->second);
      to.reload_summary_.kept.push_back(rule.id);
    } else {
      changed[r] = 1;
      (it == old_rule.end() ? to.reload_summary_.added : to.reload_summary_.changed).push_back(rule.id);
    }
  }
  for (const auto& rule : old.rules) {
    bool still = std::any_of(module.rules.begin(), module.rules.end(), [&](const ir::Rule& r) { return r.id == rule.id; });
    if (!still) to.reload_summary_.removed.push_back(rule.id);
  }
  // Lists: a new list continues an old one of the same signal (a derived one only when its
  // producer is unchanged). A list no longer kept goes to the withdrawn list (its versions
  // stay in force, not stored), as does the old withdrawn list.
  std::vector<int32_t> list_from(to.signal_of_.size(), -1), list_to(from.lists(), to.withdrawn_list());
  for (size_t list = 0; list < to.signal_of_.size(); ++list) {
    const ir::Signal& s = module.signals[static_cast<size_t>(to.signal_of_[list])];
    if (s.derived() && changed[static_cast<size_t>(s.rule)]) continue;
    auto it = old_signal.find(SignalKey(s));
    if (it == old_signal.end()) continue;
    int32_t old_list = from.store_of_[it->second];
    if (old_list < 0) continue;
    list_from[list] = old_list;
    list_to[static_cast<size_t>(old_list)] = static_cast<int32_t>(list);
  }

  for (auto& [key, owned] : from.patients_) {
    const Patient& a = *owned;
    auto p = std::make_unique<Patient>();
    p->id = a.id;
    p->id_prefix = a.id_prefix;
    p->events.by_signal.resize(to.lists());
    for (size_t list = 0; list < list_from.size(); ++list) {
      if (list_from[list] >= 0) p->events.by_signal[list] = a.events.by_signal[static_cast<size_t>(list_from[list])];
    }
    p->id_texts = a.id_texts;  // stored events keep their references into it
    {
      // The withdrawn list: the old one and the events of the lists no longer kept (those
      // with an id: a derived event has none), in (time, id) order.
      std::vector<StoredEvent> withdrawn;
      for (size_t list = 0; list < a.events.by_signal.size(); ++list) {
        if (list_to[list] != to.withdrawn_list()) continue;
        for (const StoredEvent& ev : a.events.by_signal[list]) {
          if (ev.id != 0) withdrawn.push_back(StoredEvent{ev.time, 0, false, false, ev.id});
        }
      }
      std::sort(withdrawn.begin(), withdrawn.end(), [&](const StoredEvent& x, const StoredEvent& y) {
        return x.time != y.time ? x.time < y.time : a.IdOf(x) < a.IdOf(y);
      });
      auto& list = p->events.by_signal[static_cast<size_t>(to.withdrawn_list())];
      list.reserve(withdrawn.size());
      for (const StoredEvent& ev : withdrawn) list.push_back(ev);
    }
    p->rules.resize(module.rules.size());
    for (size_t r = 0; r < rule_from.size(); ++r) {
      if (rule_from[r] >= 0) p->rules[r] = a.rules[static_cast<size_t>(rule_from[r])];
    }
    p->evicted_at = a.evicted_at;
    p->evict_due = p->events_due = INT64_MIN;  // due now: the next eviction walks the state under the new rules
    p->far_recorded = a.far_recorded;
    // The version in force of an id: where it is stored now (the withdrawn list when its
    // list is no longer kept).
    auto move_entry = [&](const IdEntry& entry) {
      return IdEntry(list_to[static_cast<size_t>(entry.signal())], entry.time(), entry.far(), entry.rank());
    };
    for (const auto& [hash, entry] : a.ids) p->ids.emplace(hash, move_entry(entry));
    for (const auto& [id, entry] : a.colliding_ids) p->colliding_ids.emplace(id, move_entry(entry));
    if (to.has_sustained_) {
      p->sustained = std::make_unique<SustainedMemo>();
      p->events.sustained = p->sustained.get();
    }
    to.patients_.emplace(key, std::move(p));
  }
  to.patients_seen_ = from.patients_seen_;
  // The queued work of unchanged rules, on the new patients.
  for (auto [queue_from, queue_to] : {std::pair{&from.timers_due_, &to.timers_due_}, {&from.final_due_, &to.final_due_},
                                      {&from.decide_due_, &to.decide_due_}}) {
    queue_from->ForEach([&](const Due& d) {
      for (size_t r = 0; r < rule_from.size(); ++r) {
        if (rule_from[r] != d.rule) continue;
        to.PushDue(*queue_to, d.time, *to.patients_.find(Key(d.patient->id))->second, r);
      }
    });
  }
  to.stream_time_ = from.stream_time_;
  to.latest_ = from.latest_;
  to.timers_upto_ = from.timers_upto_;
  to.watermark_ = from.watermark_;
  to.swept_at_ = from.swept_at_;
  to.ingested_ = from.ingested_;
  std::vector<uint64_t> fired_by = std::move(to.counters_.fired_by), retracted_by = std::move(to.counters_.retracted_by);
  to.counters_ = from.counters_;
  to.counters_.fired_by = std::move(fired_by);
  to.counters_.retracted_by = std::move(retracted_by);
  for (size_t r = 0; r < module.rules.size(); ++r) {  // a rule's counts go on under its id
    auto it = old_rule.find(module.rules[r].id);
    if (it == old_rule.end()) continue;
    for (size_t s = 0; s < Counters::kSeverities; ++s) {
      to.counters_.fired_by[r * Counters::kSeverities + s] = from.counters_.fired_by[it->second * Counters::kSeverities + s];
      to.counters_.retracted_by[r * Counters::kSeverities + s] =
          from.counters_.retracted_by[it->second * Counters::kSeverities + s];
    }
  }

  // New and changed rules: every kept event they read is a change they have not seen, so
  // they start from the kept history as if they had always run (React evaluates their points, publishes their derived signals to
  // their readers, and decides their alerts, written as backfill).
  if (std::any_of(changed.begin(), changed.end(), [](uint8_t c) { return c != 0; })) {
    to.react_only_ = &changed;
    to.backfilling_ = true;
    std::vector<uint8_t> read_by_changed(to.signal_of_.size(), 0);
    for (size_t r = 0; r < changed.size(); ++r) {
      if (!changed[r]) continue;
      for (int32_t list : to.rules_[r].slot_signal) read_by_changed[static_cast<size_t>(list)] = 1;
    }
    for (auto& [_, owned] : to.patients_) {
      Patient& p = *owned;
      to.inserted_.clear();
      to.removed_.clear();
      for (size_t list = 0; list < read_by_changed.size(); ++list) {
        if (!read_by_changed[list]) continue;
        for (const StoredEvent& ev : p.events.by_signal[list]) {
          if (to.inserted_.empty() || to.inserted_.back() != std::pair<int32_t, int64_t>(static_cast<int32_t>(list), ev.time)) {
            to.inserted_.emplace_back(static_cast<int32_t>(list), ev.time);
          }
        }
      }
      if (!to.inserted_.empty()) to.React(p);
    }
    if (to.latest_ != INT64_MIN) {  // as after a group: the stream has reached latest_
      to.FireTimers(to.latest_ - 1);
      to.DecidePending(to.latest_);
    }
    to.react_only_ = nullptr;
    to.backfilling_ = false;
  }
  return e;
}

void Engine::FlushPending() {
  if (group_size_ > 0) Flush();
}

}  // namespace cdr::runtime
