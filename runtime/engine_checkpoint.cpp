// runtime/engine_checkpoint.cpp: the engine's state to a checkpoint and back.
//
// Everything that decides a later output is written: the interned texts (event values
// refer to them by id), every patient's events and withdrawn versions, ids, points and fired
// alerts, the due queues, the group being gathered, the times and the counters. What only
// makes the engine faster is not: window indexes (rebuilt on first read) and the memos of
// `for` (SustainedMemo: an empty memo gives the same results, computed the long way).
#include <algorithm>

#include "runtime/checkpoint.h"
#include "runtime/engine.h"
#include "runtime/engine_state.h"
#include "runtime/window.h"

namespace cdr::runtime {

namespace {

void SaveIdEntry(CheckpointWriter& out, const IdEntry& e) {
  out.U32(e.list_rank);
  out.U32(e.time_lo);
  out.U32(static_cast<uint32_t>(e.time_hi));
}

void SaveDatum(CheckpointWriter& out, const Datum& d) {
  out.U8(static_cast<uint8_t>(d.kind));
  if (d.kind == Datum::Kind::Text) {
    out.Text(d.text);
  } else {
    out.I64(d.v);
  }
}

Datum ReadDatum(CheckpointReader& in) {
  Datum d;
  uint8_t kind = in.U8();
  if (kind > static_cast<uint8_t>(Datum::Kind::Time)) in.Fail();
  d.kind = static_cast<Datum::Kind>(kind);
  if (d.kind == Datum::Kind::Text) {
    d.text = std::string(in.Text());
  } else {
    d.v = in.I64();
  }
  return d;
}

// An alert as fired (a retraction repeats it).
void SaveAlertBody(CheckpointWriter& out, const AlertBody& b) {
  out.U32(static_cast<uint32_t>(b.clause));
  out.Text(b.message);
  out.U64(b.values.size());
  for (const Datum& d : b.values) SaveDatum(out, d);
  out.U64(b.evidence.size());
  for (const auto& events : b.evidence) {
    out.U64(events.size());
    for (const EvidenceEvent& e : events) {
      out.Text(e.id);
      out.I64(e.time);
      SaveDatum(out, e.value);
      out.Bool(e.implausible);
    }
  }
}

// Read for `rule`: its clause, lets and evidence entries must be the ones written.
AlertBody ReadAlertBody(CheckpointReader& in, const ir::Rule& rule) {
  AlertBody b;
  b.clause = static_cast<int>(in.U32());
  if (b.clause < 0 || static_cast<size_t>(b.clause) >= rule.whens.size()) in.Fail();
  b.message = std::string(in.Text());
  uint64_t values = in.Count(9);
  if (values != rule.lets.size()) in.Fail();
  for (uint64_t i = 0; i < values && !in.failed(); ++i) b.values.push_back(ReadDatum(in));
  uint64_t groups = in.Count(8);
  if (groups > rule.evidence.size()) in.Fail();
  b.evidence.resize(in.failed() ? 0 : groups);
  for (auto& events : b.evidence) {
    uint64_t n = in.Count(26);
    for (uint64_t k = 0; k < n && !in.failed(); ++k) {
      EvidenceEvent e;
      e.id = std::string(in.Text());
      e.time = in.I64();
      e.value = ReadDatum(in);
      e.implausible = in.Bool();
      events.push_back(std::move(e));
    }
  }
  return b;
}

IdEntry ReadIdEntry(CheckpointReader& in) {
  IdEntry e;
  e.list_rank = in.U32();
  e.time_lo = in.U32();
  e.time_hi = static_cast<int32_t>(in.U32());
  return e;
}

void SaveEvent(CheckpointWriter& out, const Event& e) {
  out.Text(e.id);
  out.Text(e.patient);
  out.Text(e.source);
  out.U32(static_cast<uint32_t>(e.signal));
  out.I64(e.time);
  out.I64(e.recorded);
  out.Bool(e.has_value);
  out.I64(e.value);
  out.U8(static_cast<uint8_t>(e.status));
  out.Bool(e.implausible);
  out.U64(e.source_line);
}

// The event's texts stay views into the reader's buffer: the caller copies them.
Event ReadEvent(CheckpointReader& in) {
  Event e;
  e.id = in.Text();
  e.patient = in.Text();
  e.source = in.Text();
  e.signal = static_cast<int32_t>(in.U32());
  e.time = in.I64();
  e.recorded = in.I64();
  e.has_value = in.Bool();
  e.value = in.I64();
  uint8_t status = in.U8();
  if (status > static_cast<uint8_t>(Status::EnteredInError)) in.Fail();
  e.status = static_cast<Status>(status);
  e.implausible = in.Bool();
  e.source_line = in.U64();
  return e;
}

}  // namespace

void Engine::Save(CheckpointWriter& out) const {
  const auto& texts = interner_.texts();
  out.U64(texts.size());
  for (const auto& t : texts) out.Text(t);

  out.U64(patients_.size());
  for (const auto& [_, owned] : patients_) {
    const Patient& p = *owned;
    out.Text(p.id);
    out.U64(p.events.by_signal.size());
    for (const auto& list : p.events.by_signal) {
      out.U64(list.size());
      for (const StoredEvent& e : list) {
        out.I64(e.time);
        out.I64(e.value);
        out.Bool(e.has_value);
        out.Bool(e.implausible);
        out.U32(e.id);
      }
    }
    out.U64(p.rules.size());
    for (const RuleState& rs : p.rules) {
      out.U64(rs.points.size());
      for (const auto& [t, point] : rs.points) {
        out.I64(t);
        out.U32(static_cast<uint32_t>(point.first_held));
        out.Bool(point.traced);
      }
      out.U64(rs.fired.size());
      for (const auto& [t, fired] : rs.fired) {
        out.I64(t);
        out.U32(static_cast<uint32_t>(fired.rank));
        out.U64(fired.content);
        SaveAlertBody(out, fired.body);
      }
      out.I64(rs.undecided_from);
    }
    out.U64(p.ids.size());
    for (const auto& [hash, entry] : p.ids) {
      out.U32(hash);
      SaveIdEntry(out, entry);
    }
    out.I64(p.evicted_at);
    out.I64(p.evict_due);
    out.Text(p.id_texts.raw());
    out.U64(p.id_texts.dropped());
    out.U64(p.colliding_ids.size());
    for (const auto& [id, entry] : p.colliding_ids) {
      out.Text(id);
      SaveIdEntry(out, entry);
    }
    out.U64(p.far_recorded.size());
    for (const auto& [id, recorded] : p.far_recorded) {
      out.Text(id);
      out.I64(recorded);
    }
  }
  out.U64(patients_seen_.size());
  for (uint64_t h : patients_seen_) out.U64(h);

  for (const DueQueue* queue : {&timers_due_, &final_due_, &decide_due_}) {
    out.U64(queue->size());
    queue->ForEach([&](const Due& d) {
      out.I64(d.time);
      out.Text(d.patient->id);
      out.U32(static_cast<uint32_t>(d.rule));
    });
  }

  out.U64(group_size_);
  for (size_t i = 0; i < group_size_; ++i) {
    SaveEvent(out, group_[i].View());
    out.I64(group_[i].watermark);
  }

  for (int64_t v : {stream_time_, latest_, timers_upto_, watermark_, swept_at_}) out.I64(v);
  for (uint64_t v : {counters_.applied, counters_.late, counters_.ignored, counters_.superseded, counters_.evaluations,
                     counters_.fired, counters_.retracted, counters_.trace_records, ingested_}) {
    out.U64(v);
  }
  for (const auto* by : {&counters_.fired_by, &counters_.retracted_by}) {
    for (uint64_t v : *by) out.U64(v);
  }
}

bool Engine::Restore(CheckpointReader& in) {
  // The texts: those the rules interned (the same, in the same order, for the same module)
  // and then those the events brought.
  uint64_t texts = in.Count(8);
  const size_t known = interner_.texts().size();
  for (uint64_t i = 0; i < texts && !in.failed(); ++i) {
    std::string text(in.Text());
    if (i < known ? interner_.texts()[i] != text : interner_.Intern(text) != static_cast<int64_t>(i)) in.Fail();
  }
  if (texts < known) in.Fail();

  // Lists whose values are interned texts: a value must name one.
  const int64_t texts_known = static_cast<int64_t>(interner_.texts().size());
  auto text_valued = [&](int32_t signal) {
    auto type = module_.signals[static_cast<size_t>(signal)].type;
    return type == ir::SignalType::Text || type == ir::SignalType::Code || type == ir::SignalType::Enum;
  };
  auto valid_value = [&](int32_t signal, bool has_value, int64_t value) {
    if (has_value && text_valued(signal) && (value < 0 || value >= texts_known)) in.Fail();
  };
  uint64_t patients = in.Count(8);
  for (uint64_t n = 0; n < patients && !in.failed(); ++n) {
    auto p = std::make_unique<Patient>();
    p->id = in.Text();
    p->id_prefix = IdPrefix(p->id);
    if (in.Count(8) != lists()) in.Fail();
    p->events.by_signal.resize(lists());
    std::vector<uint32_t> refs;  // checked once the id texts are read
    for (size_t l = 0; l < p->events.by_signal.size(); ++l) {
      auto& list = p->events.by_signal[l];
      uint64_t size = in.Count(22);
      list.reserve(size);
      for (uint64_t i = 0; i < size; ++i) {
        int64_t time = in.I64(), value = in.I64();
        bool has_value = in.Bool(), implausible = in.Bool();
        uint32_t ref = in.U32();
        if (!list.empty() && time < list.back().time) in.Fail();  // a list is sorted by time
        refs.push_back(ref);
        if (l < signal_of_.size()) {
          valid_value(signal_of_[l], has_value, value);
        } else if (has_value || ref == 0) {
          in.Fail();  // a withdrawn version has an id and no value
        }
        list.emplace_back(time, value, has_value, implausible, ref);
      }
    }
    if (in.Count(8) != rules_.size()) in.Fail();
    p->rules.resize(rules_.size());
    for (RuleState& rs : p->rules) {
      uint64_t points = in.Count(13);
      for (uint64_t i = 0; i < points; ++i) {
        int64_t t = in.I64();
        Point& point = rs.points[t];
        point.first_held = static_cast<int32_t>(in.U32());
        point.traced = in.Bool();
        if (point.first_held < -1 || point.first_held >= static_cast<int32_t>(rules_[&rs - p->rules.data()].ir->whens.size())) {
          in.Fail();
        }
      }
      const ir::Rule& rule = *rules_[&rs - p->rules.data()].ir;
      uint64_t fired = in.Count(41);
      for (uint64_t i = 0; i < fired; ++i) {
        int64_t t = in.I64();
        Fired& f = rs.fired[t];
        f.rank = static_cast<int>(in.U32());
        if (f.rank < 0 || f.rank >= static_cast<int>(Counters::kSeverities)) in.Fail();
        f.content = in.U64();
        f.body = ReadAlertBody(in, rule);
      }
      rs.undecided_from = in.I64();
    }
    uint64_t ids = in.Count(16);
    p->ids.reserve(ids);
    for (uint64_t i = 0; i < ids; ++i) {
      uint32_t hash = in.U32();
      p->ids.emplace(hash, ReadIdEntry(in));
    }
    p->evicted_at = in.I64();
    p->evict_due = in.I64();
    p->events_due = INT64_MIN;  // not saved: the first eviction after the restore walks the lists
    std::string_view raw = in.Text();
    p->id_texts.Assign(raw, in.U64());
    for (uint32_t ref : refs) {
      if (!p->id_texts.Valid(ref)) in.Fail();
    }
    auto valid_entry = [&](const IdEntry& e) {
      if (static_cast<size_t>(e.signal()) >= lists() || e.rank() > 2) in.Fail();
    };
    for (const auto& [_, e] : p->ids) valid_entry(e);
    for (uint64_t i = 0, c = in.Count(20); i < c; ++i) {
      std::string id(in.Text());
      valid_entry(p->colliding_ids.emplace(std::move(id), ReadIdEntry(in)).first->second);
    }
    for (uint64_t i = 0, c = in.Count(16); i < c; ++i) {
      std::string id(in.Text());
      p->far_recorded.emplace(std::move(id), in.I64());
    }
    if (has_sustained_) {
      p->sustained = std::make_unique<SustainedMemo>();
      p->events.sustained = p->sustained.get();
    }
    std::string key = p->id;
    if (!patients_.emplace(std::move(key), std::move(p)).second) in.Fail();  // a patient twice
  }
  for (uint64_t i = 0, c = in.Count(8); i < c; ++i) patients_seen_.insert(in.U64());

  for (DueQueue* queue : {&timers_due_, &final_due_, &decide_due_}) {
    for (uint64_t i = 0, c = in.Count(20); i < c && !in.failed(); ++i) {
      int64_t time = in.I64();
      auto it = patients_.find(Key(in.Text()));
      uint32_t rule = in.U32();
      if (it == patients_.end() || rule >= rules_.size()) {
        in.Fail();
        break;
      }
      PushDue(*queue, time, *it->second, rule);
    }
  }

  uint64_t group = in.Count(50);
  for (uint64_t i = 0; i < group && !in.failed(); ++i) {
    Event e = ReadEvent(in);
    int64_t watermark = in.I64();
    if (e.signal < 0 || static_cast<size_t>(e.signal) >= store_of_.size()) {
      in.Fail();
      break;
    }
    valid_value(e.signal, e.has_value, e.value);
    group_.emplace_back();
    group_id_hash_.push_back(Patient::Hash(e.id));
    group_.back().Take(e, watermark);
  }
  group_size_ = group_.size();
  prefetched_ = nullptr;  // Flush looks the group's patient up

  for (int64_t* v : {&stream_time_, &latest_, &timers_upto_, &watermark_, &swept_at_}) *v = in.I64();
  for (uint64_t* v : {&counters_.applied, &counters_.late, &counters_.ignored, &counters_.superseded,
                      &counters_.evaluations, &counters_.fired, &counters_.retracted, &counters_.trace_records,
                      &ingested_}) {
    *v = in.U64();
  }
  for (auto* by : {&counters_.fired_by, &counters_.retracted_by}) {
    for (uint64_t& v : *by) v = in.U64();
  }
  native_from_event_ = native_ ? ingested_ : 0;
  return !in.failed();
}

Engine::StateUse Engine::StateUsage() const {
  StateUse u;
  // A heap block's text (a std::string beyond its inline 15 bytes).
  auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  // An Abseil flat map's slots and control bytes.
  auto slots = [](size_t capacity, size_t slot) { return capacity * (slot + 1); };
  u.patient = slots(patients_.capacity(), sizeof(std::string) + sizeof(void*));
  for (const auto& [key, owned] : patients_) {
    const Patient& p = *owned;
    ++u.patients;
    u.patient += heap(key) + sizeof(Patient) + heap(p.id) + p.events.by_signal.capacity() * sizeof(EventList) +
                 p.rules.capacity() * sizeof(RuleState);
    for (const auto& list : p.events.by_signal) {
      (&list - p.events.by_signal.data() == withdrawn_list() ? u.withdrawn : u.events) += list.capacity() * sizeof(StoredEvent);
      u.windows += list.index_bytes();
    }
    u.ids += p.id_texts.capacity() + slots(p.ids.capacity(), sizeof(std::pair<uint32_t, IdEntry>));
    for (const auto& [id, _] : p.colliding_ids) u.ids += sizeof(std::string) + sizeof(IdEntry) + 16 + heap(id);
    u.ids += slots(p.far_recorded.capacity(), sizeof(std::pair<std::string, int64_t>));
    for (const auto& [id, _] : p.far_recorded) u.ids += heap(id);
    for (const auto& rs : p.rules) {
      u.points += rs.points.capacity() * sizeof(std::pair<int64_t, Point>);
      u.alerts += rs.fired.capacity() * sizeof(std::pair<int64_t, Fired>);
      for (const auto& [_, f] : rs.fired) {
        u.alerts += heap(f.body.message) + f.body.values.capacity() * sizeof(Datum) +
                    f.body.evidence.capacity() * sizeof(std::vector<EvidenceEvent>);
        for (const Datum& d : f.body.values) u.alerts += heap(d.text);
        for (const auto& events : f.body.evidence) {
          u.alerts += events.capacity() * sizeof(EvidenceEvent);
          for (const EvidenceEvent& e : events) u.alerts += heap(e.id);
        }
      }
    }
    if (p.sustained) u.sustained += p.sustained->bytes();
  }
  u.queues = (timers_due_.size() + final_due_.size() + decide_due_.size()) * sizeof(Due);
  return u;
}

}  // namespace cdr::runtime
