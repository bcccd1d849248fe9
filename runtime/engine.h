// runtime/engine.h: the event-time engine. Keeps per-patient state shared by all rules,
// evaluates rules at evaluation points as data arrives (eager alerts), revises them when
// late data or corrections change a result (retract, fire anew), fires timer points from
// the stream's event time, and writes each point's final result to the trace once the
// watermark has passed it. The engine does no I/O of its own: it hands records to a sink
// (runtime/sink.h).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include "compiler/ir/ir.h"
#include "runtime/due_queue.h"
#include "runtime/event.h"
#include "runtime/interpreter.h"
#include "runtime/sink.h"
#include "runtime/stream_clock.h"

namespace cdr::runtime {

struct IdEntry;
class CheckpointWriter;
class CheckpointReader;

/// When an evaluation point's alerts are decided (docs/semantics.md, "Emission").
enum class Emit {
  /// Once the stream has passed the point's time (an event with a later time arrived):
  /// time-ordered input never fires and then retracts.
  Settled,
  /// As data arrives, for the lowest latency; later data at the same time revises.
  Eager,
};

struct EngineOptions {
  int64_t allowed_lateness_ms = 24LL * 3600 * 1000;
  Emit emit = Emit::Settled;
  /// The hosts' guard of stream time (runtime/stream_clock.h); the engine itself trusts
  /// the events it is given.
  StreamClockOptions clock;
  /// Native code per rule and block (the JIT); empty: the interpreter runs the rules.
  std::vector<std::vector<NativeBlock>> native;
  /// Adaptive execution: asked before each event until it hands over native code
  /// (returns true and fills its argument); from then on the rules run natively. The
  /// switch happens between two events, so no event is lost, duplicated or evaluated
  /// twice, and both back ends compute the same results.
  std::function<bool(std::vector<std::vector<NativeBlock>>&)> take_native;
};

struct Counters {
  uint64_t applied = 0;     // events used
  uint64_t late = 0;        // older than the watermark: to the late output
  uint64_t ignored = 0;     // entered-in-error for an event id not known (kept as withdrawn)
  uint64_t superseded = 0;  // versions of an event id not newer than the one in force
  uint64_t evaluations = 0;
  uint64_t fired = 0;
  uint64_t retracted = 0;
  uint64_t trace_records = 0;
  /// Fires and retractions per rule and severity: [rule * kSeverities + rank], rank 0 low
  /// to 3 critical.
  static constexpr size_t kSeverities = 4;
  std::vector<uint64_t> fired_by, retracted_by;
};

class Engine {
 public:
  /// `sink`: where alerts, trace records and late events go (may be null: nowhere; it
  /// outlives the engine). `texts`, when given: the interned texts to start from (a reload
  /// keeps the running engine's, so the values of stored events keep their meaning).
  Engine(const ir::Module& module, EngineOptions options, AlertSink* sink, const Interner* texts = nullptr);

  /// A reload (runtime/engine_reload.cpp): an engine of `module` that takes over the state
  /// of `from`, an engine of the rules that ran until now, between two events. The events
  /// of every signal both rule sets store are kept; a rule whose id and hash are unchanged
  /// (and whose derived inputs come from unchanged rules) keeps its points, alerts and
  /// suppression exactly; a new or changed rule is evaluated over the kept history, as if
  /// it had always run, its alerts at the points this decides written with
  /// `"backfill":true`. Null, with the reason, when a signal both read changed its type
  /// or unit (a schema change the kept events cannot follow). `from` keeps its state (its
  /// pending group applied first) and is not used after.
  static std::unique_ptr<Engine> Reload(const ir::Module& module, EngineOptions options, AlertSink* sink, Engine& from,
                                        std::string& error);
  /// What the last Reload did, for the log: rules kept, new, changed, removed.
  struct ReloadSummary {
    std::vector<std::string> kept, added, changed, removed;
  };
  const ReloadSummary& reload_summary() const { return reload_summary_; }
  ~Engine();

  enum class Outcome { Applied, Late, UnknownCorrection };
  /// Takes one event in arrival order. Consecutive events of one patient with the same
  /// time are applied together. Late events are refused and written to the late output:
  /// an event whose time is before the watermark at its arrival (Outcome::Late), and,
  /// found when its group is applied, a new version of an event id whose version in force
  /// is before that watermark (counted in counters().late as well). An entered-in-error
  /// for an id not known is kept (a version recorded earlier and arriving later stays
  /// out) and reported (Outcome::UnknownCorrection).
  Outcome Ingest(const Event& event);
  /// The stream's event time has reached `time` with no event (a rule test's clock, a
  /// heartbeat): applies what is pending and evaluates the timer points up to `time`.
  void AdvanceTo(int64_t time);
  /// End of input: applies what is pending and writes the remaining trace records.
  void Finish();
  /// Applies the group of events being gathered now (before a reload).
  void FlushPending();

  const Counters& counters() const { return counters_; }
  /// Whether the rules run as native code now, and from which event on (0: the first).
  bool native() const { return native_; }
  uint64_t native_from_event() const { return native_from_event_; }
  /// The memory the engine's state takes, by part (bytes held: capacities, not sizes),
  /// walking every patient: for metrics and benchmarks, now and then.
  struct StateUse {
    size_t patients = 0;      // patients in the state (not yet dropped)
    size_t patient = 0;       // each patient's fixed part: its record, id, lists' and rules' headers
    size_t events = 0;        // stored events (24 bytes each)
    size_t windows = 0;       // the lists' window indexes
    size_t ids = 0;           // the id index, the ids' texts and far `recorded` times
    size_t withdrawn = 0;     // the withdrawn lists: versions in force not stored (24 bytes each)
    size_t points = 0;        // evaluation points
    size_t alerts = 0;        // alerts standing, with what they said
    size_t sustained = 0;     // what `for` evaluations learned
    size_t queues = 0;        // the timer, trace and decision queues
    /// The parts in bytes, by name (`state` in `cdr run --stats`): total() is their sum.
    std::array<std::pair<const char*, size_t>, 9> parts() const {
      return {{{"patient", patient},
               {"events", events},
               {"windows", windows},
               {"ids", ids},
               {"withdrawn", withdrawn},
               {"points", points},
               {"alerts", alerts},
               {"sustained", sustained},
               {"queues", queues}}};
    }
    size_t total() const {
      size_t bytes = 0;
      for (const auto& [_, b] : parts()) bytes += b;
      return bytes;
    }
  };
  StateUse StateUsage() const;
  size_t StateBytes() const { return StateUsage().total(); }
  /// Distinct patients seen since the start.
  size_t patients() const { return patients_seen_.size(); }
  int64_t watermark() const { return watermark_; }
  /// The latest time the stream has reached (events taken, AdvanceTo).
  int64_t stream_time() const { return latest_; }
  Interner& interner() { return interner_; }
  /// Coverage per rule (for `cdr test`), when enabled before the first event.
  void EnableCoverage() { coverage_enabled_ = true; }
  const Coverage* CoverageOf(size_t rule) const;

  /// Writes the engine's whole state (between two events: after an Ingest, AdvanceTo or
  /// a restore) to a checkpoint (runtime/engine_checkpoint.cpp). What only speeds the
  /// engine up (window indexes, the memos of `for`) is rebuilt, not written.
  void Save(CheckpointWriter& out) const;
  /// Reads a state written by Save into an engine just constructed from the same module
  /// and options, before any event. False when the state does not fit this engine.
  bool Restore(CheckpointReader& in);

 private:
  struct Point;
  struct Fired;
  struct RuleState;
  struct Desired {
    int64_t time;
    int rank;
    const Point* point;
  };
  struct Patient;
  /// < 0 when `e` is a newer version of its event id than the one in force (`old`,
  /// stored or withdrawn), > 0 when older: by `recorded`, then status rank
  /// (entered-in-error over amended over final). When neither tells them apart, the later
  /// arrival (`e`) is the newer.
  int VersionOrder(const Patient& p, const IdEntry& old, const Event& e) const;
  /// A timer point, or a point to trace once final, in (time, patient id, rule) order.
  /// It holds its patient (kept while anything is due for it: Patient::pending) and the
  /// first 8 bytes of the id as a number, so most comparisons read neither the id nor
  /// the patient.
  struct Due {
    int64_t time;
    uint64_t id_prefix;
    Patient* patient;
    int32_t rule;
    bool operator<(const Due& o) const;
  };
  using DueQueue = runtime::DueQueue<Due, std::less<Due>>;
  void PushDue(DueQueue& queue, int64_t time, Patient& p, size_t rule);
  /// Takes the first entry due at `upto` or before; nullptr when there is none.
  static Patient* PopDue(DueQueue& queue, int64_t upto, Due& d);

  void Flush();
  /// Prefetches the state the group's Flush will touch, one step per event of the group.
  void Prefetch(const Event& e, size_t index_in_group, uint32_t id_hash);
  /// Stores one event (`hash`: EventIdHash of its id), replacing or removing by id.
  /// `watermark`: the watermark at the event's arrival; a version replacing one before it
  /// is late (written to the late output, not applied).
  void Apply(Patient& p, const Event& e, uint32_t hash, int64_t watermark,
             std::vector<std::pair<int32_t, int64_t>>& inserted, std::vector<std::pair<int32_t, int64_t>>& removed);
  void RefuseLate(const Event& e, const std::string& reason);
  /// Re-evaluates, in rule order, what the changes in inserted_/removed_ affect.
  void React(Patient& p);
  /// Sets (or, unknown, removes) the derived event of list `store` at `t`; a change is
  /// recorded in inserted_/removed_ for the rules that read it.
  void Publish(Patient& p, int32_t store, int64_t t, const Value& v);
  void Update(Patient& p, size_t rule, int64_t from, int64_t to);
  /// Evaluates `rule` at its point `t` (the entry of the rule's points at `t`). Publishes
  /// the rule's derived events, which touches event lists only: `point` stays valid.
  void EvaluatePoint(Patient& p, size_t rule, int64_t t, Point& point);
  /// Decides the alerts of `rule` from its point `from` on, up to the points the stream
  /// has passed (all of them when eager): fires and retracts what changed. A held point
  /// not yet passed waits in decide_due_.
  void Scan(Patient& p, size_t rule, int64_t from);
  /// Decides the waiting points the stream has now passed (before `before`). Inline: it
  /// runs for every group, and the queue is mostly empty.
  void DecidePending(int64_t before) {
    if (!decide_due_.empty()) DecideDue(before);
  }
  void DecideDue(int64_t before);
  bool IsPoint(const Patient& p, size_t rule, int64_t t) const;
  /// Evaluates the timer points up to `upto`. Inline, as DecidePending.
  void FireTimers(int64_t upto) {
    timers_upto_ = std::max(timers_upto_, upto);
    if (!timers_due_.empty()) FireDueTimers(upto);
  }
  void FireDueTimers(int64_t upto);
  void AdvanceTime(int64_t stream_time);
  void Finalize(int64_t upto);
  void Evict(Patient& p);
  /// Evaluates `rule` at `t` with every let and the evidence (into evidence_), for an alert.
  const std::vector<Value>& EvalForAlert(const Patient& p, size_t rule, int64_t t);
  /// A hash of what an alert at `point` says (clause, lets, evidence), from EvalForAlert's
  /// registers and evidence: alerts whose content differs are retracted and fired anew.
  uint64_t Content(const Patient& p, size_t rule, const Point& point, const std::vector<Value>& regs,
                   const std::vector<std::vector<EventRef>>& evidence) const;
  /// What an alert at `point` says (its clause, message, values, evidence), from
  /// EvalForAlert's registers and evidence.
  AlertBody MakeAlertBody(const Patient& p, size_t rule, const Point& point, const std::vector<Value>& regs,
                          const std::vector<std::vector<EventRef>>& evidence) const;
  /// A let's value, a stored event's value, as a datum.
  void SetDatum(Datum& d, const ir::Let& let, const Value& v) const;
  void SetDatum(Datum& d, int32_t signal, const StoredEvent& e) const;
  /// Hands an alert of `rule` at `t` to the sink.
  void EmitAlert(AlertRecord::Action action, const Patient& p, size_t rule, int64_t t, const AlertBody& body);

  const ir::Module& module_;
  EngineOptions options_;
  AlertSink* sink_;
  bool trace_;  // the sink wants trace records
  Interner interner_;
  std::vector<LoadedRule> rules_;
  std::vector<int32_t> store_of_;   // module signal -> stored list, or -1 when no rule reads it
  std::vector<int32_t> signal_of_;  // stored list -> module signal
  // A patient's lists: one per stored signal, then the withdrawn list (withdrawn_list()): the
  // versions in force that are not stored (removed in error, or of a signal no rule
  // reads), kept as events no rule reads, so that an earlier version arriving later stays
  // out. They are evicted, indexed by id and checkpointed as every other list.
  size_t lists() const { return signal_of_.size() + 1; }
  int32_t withdrawn_list() const { return static_cast<int32_t>(signal_of_.size()); }
  std::vector<std::vector<size_t>> rules_of_signal_;  // stored list -> rules that read it
  std::vector<uint8_t> reads_;  // [rule * stored lists + list]: the rule reads the list
  std::vector<std::vector<std::pair<int32_t, int64_t>>> timers_;  // rule -> (signal, offset)
  std::vector<bool> unbounded_;                       // rule looks back without a window bound
  bool has_sustained_ = false;                        // some rule has a `for` (patients keep a SustainedMemo)
  int64_t keep_ms_ = 0;                                // how much history a patient keeps
  absl::flat_hash_map<std::string, std::unique_ptr<Patient>> patients_;
  absl::flat_hash_set<uint64_t> patients_seen_;  // hashes of patient ids, for the count
  /// An event of the group being gathered, with its own copy of its texts (id, patient,
  /// then its source, in one buffer reused from group to group: a copy is a memcpy, with
  /// no allocation once the buffer is large enough), and the watermark at its arrival.
  struct Pending {
    std::unique_ptr<char[]> text;
    size_t capacity = 0, id_size = 0, patient_size = 0, source_size = 0;
    int64_t watermark = INT64_MIN;
    Event fields;  // the rest (its views are not kept: `text` holds the texts)
    void Take(const Event& e, int64_t watermark_at_arrival) {
      size_t need = e.id.size() + e.patient.size() + e.source.size();
      if (need > capacity) {
        capacity = std::max<size_t>(need, 2 * capacity);
        text.reset(new char[capacity]);
      }
      char* at = text.get();
      if (!e.id.empty()) std::memcpy(at, e.id.data(), e.id.size());
      if (!e.patient.empty()) std::memcpy(at + e.id.size(), e.patient.data(), e.patient.size());
      if (!e.source.empty()) std::memcpy(at + e.id.size() + e.patient.size(), e.source.data(), e.source.size());
      id_size = e.id.size();
      patient_size = e.patient.size();
      source_size = e.source.size();
      watermark = watermark_at_arrival;
      fields = e;
      fields.id = fields.patient = fields.source = {};  // the caller's texts, not kept
    }
    std::string_view id() const { return {text.get(), id_size}; }
    std::string_view patient() const { return {text.get() + id_size, patient_size}; }
    Event View() const {
      Event e = fields;
      e.id = id();
      e.patient = patient();
      e.source = {text.get() + id_size + patient_size, source_size};
      return e;
    }
  };
  std::vector<Pending> group_;  // slots reused across groups
  std::vector<uint32_t> group_id_hash_;  // EventIdHash of each slot's id
  size_t group_size_ = 0;
  Patient* prefetched_ = nullptr;  // the patient of the group being read (Prefetch; Flush uses it)
  std::vector<std::pair<int32_t, int64_t>> inserted_, removed_;
  std::vector<uint8_t> affected_flags_;  // rule -> affected by the changes (React)
  std::vector<std::vector<std::pair<int32_t, int32_t>>> outputs_;  // rule -> (let, stored list) it publishes
  std::vector<Desired> desired_;
  std::vector<int64_t> changed_times_;  // React: the times a rule's inputs changed
  int64_t stream_time_ = INT64_MIN;  // the latest time of the groups applied
  // The latest time taken (Ingest, AdvanceTo): the watermark of the late check is
  // latest_ - lateness, and points before latest_ are passed (their alerts decided).
  int64_t latest_ = INT64_MIN;
  int64_t timers_upto_ = INT64_MIN;  // timer points up to this time have been evaluated
  int64_t watermark_ = INT64_MIN;
  DueQueue timers_due_;
  DueQueue final_due_;
  DueQueue decide_due_;  // held points waiting for the stream to pass them (Emit::Settled)
  Counters counters_;
  bool coverage_enabled_ = false;
  std::vector<Coverage> coverage_;
  int64_t swept_at_ = INT64_MIN;
  void InstallNative(const std::vector<std::vector<NativeBlock>>& code);
  bool native_ = false;
  uint64_t native_from_event_ = 0;
  uint64_t ingested_ = 0;
  /// Evaluates rule `r` at `t` into its own registers (regs_[r]), which it returns.
  std::vector<Value>& Eval(size_t r, const Patient& p, int64_t t, std::vector<std::vector<EventRef>>* evidence,
                           Coverage* coverage, Wanted wanted);
  std::vector<std::vector<Value>> regs_;  // per rule
  std::vector<uint8_t> regs_primed_;      // per rule: regs_[r] holds the rule's constants
  std::vector<std::vector<EventRef>> evidence_;
  std::vector<Datum> trace_values_;  // Finalize's record, reused
  std::vector<int> trace_held_;
  // Reloads: React marks, for the changes it starts with, only these rules (null: all);
  // while backfilling, alert lines say so.
  const std::vector<uint8_t>* react_only_ = nullptr;
  bool backfilling_ = false;
  ReloadSummary reload_summary_;
};

/// The deterministic alert id: the first 32 hex digits of SHA-256 of rule, version,
/// patient and evaluation time.
std::string AlertId(const std::string& rule, const std::string& version, const std::string& patient, int64_t time);

/// The 32-bit hash a patient's id index keys its events by. Two ids of one patient with
/// the same hash are both kept (the second by its text); tests make such ids with it.
uint32_t EventIdHash(std::string_view id);

}  // namespace cdr::runtime
