// runtime/stream_clock.h: the stream time a host trusts, so that no single event can move
// it. An event far ahead of the stream time is held until the stream reaches it or an
// event of another patient corroborates it; one whose clock is off (measured after it was
// recorded) is refused. docs/semantics.md, "Stream time", states the rules.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cdr::runtime {

class CheckpointWriter;
class CheckpointReader;

struct StreamClockOptions {
  /// How far ahead of the stream time an event may be and still move it (continuity);
  /// farther needs corroboration. < 0: no hold (the stream time is the latest event time).
  int64_t max_ahead_ms = 3600000;
  /// How far an event's `time` may be after its `recorded` time. Charting is not strictly
  /// after the fact: hourly urine output is charted at the hour, entered up to an hour
  /// before it (up to 62 min in MIMIC-IV's outputevents). < 0: not checked.
  int64_t max_clock_skew_ms = 2 * 3600000;
  /// The most events held at once. When the hold is full, the held events within
  /// `end_reach_ms` of the stream time are used, as at the end of the input; if it is
  /// still full, the one farthest ahead is quarantined.
  size_t max_held = 100000;
  /// At the end of the input (or when the hold is full), held events this close to the
  /// stream time are used, in time order (the last patients of a replay, alone after a
  /// gap); farther ones are quarantined. Hosts set it to the allowed lateness.
  int64_t end_reach_ms = 24LL * 3600 * 1000;
};

/// An event the clock holds: its input (for re-decoding and for the quarantine output).
struct HeldEvent {
  uint64_t line = 0;
  std::string text;
  int64_t time = 0;
  std::string patient;
  uint64_t arrival = 0;  // set by the clock: held events are released in arrival order
};

/// What the host does next, in order (StreamClock::Next).
struct ClockAction {
  enum Kind {
    Jump,        // the stream time jumped to `time`: tell the engine (AdvanceTo(time - 1))
    Release,     // `event` may be used now (decode it again, then ingest it)
    Quarantine,  // `event` was never corroborated: dead-letter it with `reason`
  } kind = Jump;
  int64_t time = 0;
  HeldEvent event;
  std::string reason;
};

class StreamClock {
 public:
  explicit StreamClock(StreamClockOptions options) : options_(options) {}

  /// Why an event's times cannot be trusted (its dead-letter reason), or nothing.
  std::optional<std::string> SkewReason(int64_t time, int64_t recorded) const {
    if (time <= recorded || options_.max_clock_skew_ms < 0 || time - recorded <= options_.max_clock_skew_ms) return {};
    return Skewed(time, recorded);
  }

  /// Whether an event of this time may be used now (then Admit it); otherwise Hold it.
  bool Admits(int64_t time) const { return options_.max_ahead_ms < 0 || (set_ && time <= stream_time_ + options_.max_ahead_ms); }
  /// An event used now: the stream time reaches its time. Afterwards, drain Next().
  void Admit(int64_t time);
  /// An event held (Admits was false). Afterwards, drain Next().
  void Hold(HeldEvent&& event);

  /// A clock outside the stream (the wall clock of a live feed) says the present is
  /// `time`: the stream time reaches it, and the held events it reaches are released.
  /// Afterwards, drain Next().
  void Corroborate(int64_t time) { JumpTo(time); }

  /// End of input: held events within end_reach_ms of the stream time are released, the
  /// rest quarantined. Drain Next() afterwards.
  void Finish();

  /// The next action for the host; false when there is none.
  bool Next(ClockAction& action) {
    if (actions_.empty()) return false;
    return TakeAction(action);
  }

  /// The clock's state for a checkpoint (with no action waiting: after Next() is drained),
  /// and back into a clock just constructed with the same options.
  void Save(CheckpointWriter& out) const;
  bool Restore(CheckpointReader& in);

  bool set() const { return set_; }
  int64_t stream_time() const { return stream_time_; }
  size_t held() const { return held_.size(); }
  /// Events held so far (each once), and of those the ones quarantined.
  uint64_t held_total() const { return arrivals_; }
  uint64_t quarantined() const { return quarantined_; }

 private:
  using Held = std::multimap<int64_t, HeldEvent>;  // by time
  /// The earliest held event of another patient (any patient when `any_patient`) within
  /// max_ahead of `at`'s time, or end.
  Held::iterator Corroborating(Held::iterator at, bool any_patient);
  /// Looks for corroboration of `at`; jumps there when found. True when it jumped.
  bool TryJump(Held::iterator at, bool any_patient);
  void JumpTo(int64_t time);
  /// Releases every held event the stream time now reaches (each may reach further), in
  /// the order they arrived.
  void ReleaseReached();
  void Quarantine(Held::iterator it, const std::string& why);
  std::string Skewed(int64_t time, int64_t recorded) const;
  bool TakeAction(ClockAction& action);
  /// Uses what no more input can corroborate: starts the stream if it has not started (at
  /// the earliest event another corroborates, else the earliest), then releases the held
  /// events within end_reach_ms of the stream time, in time order.
  void ReleaseWithinReach();

  StreamClockOptions options_;
  bool set_ = false;
  int64_t stream_time_ = INT64_MIN;
  Held held_;
  std::deque<ClockAction> actions_;
  uint64_t arrivals_ = 0;
  uint64_t quarantined_ = 0;
};

}  // namespace cdr::runtime
