// runtime/stream_clock.cpp: the guarded stream time (runtime/stream_clock.h).
#include "runtime/stream_clock.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "runtime/checkpoint.h"
#include "stdlib/time.h"

namespace cdr::runtime {

namespace {

// A duration for a reason text: `2h 5min`, `365d`, `90s`, `250ms`.
std::string Duration(int64_t ms) {
  if (ms < 0) return "-" + Duration(-ms);
  if (ms < 1000) return std::to_string(ms) + "ms";
  struct Unit {
    int64_t ms;
    const char* name;
  };
  const Unit units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}};
  std::string out;
  int parts = 0;
  for (const Unit& u : units) {
    if (ms >= u.ms && parts < 2) {
      out += (out.empty() ? "" : " ") + std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
      ++parts;
    } else if (parts) {
      ++parts;  // only the two largest adjacent units
    }
  }
  return out;
}

// How far Corroborating looks on each side (a flood of one patient's events is not searched
// through: corroboration is found at the next event of another patient).
constexpr int kSearchLimit = 256;

}  // namespace

std::string StreamClock::Skewed(int64_t time, int64_t recorded) const {
  return "`time` " + stdlib::FormatTime(time) + " is " + Duration(time - recorded) + " after `recorded` " +
         stdlib::FormatTime(recorded) + ": an observation is not recorded that long before it is made (clock-skew tolerance " +
         Duration(options_.max_clock_skew_ms) + ")";
}

void StreamClock::Admit(int64_t time) {
  if (!set_ || time > stream_time_) {
    set_ = true;
    stream_time_ = time;
    if (!held_.empty()) ReleaseReached();
  }
}

void StreamClock::Hold(HeldEvent&& event) {
  int64_t time = event.time;
  event.arrival = arrivals_++;
  auto at = held_.emplace(time, std::move(event));
  TryJump(at, /*any_patient=*/false);
  if (held_.size() <= options_.max_held) return;
  ReleaseWithinReach();
  if (held_.size() > options_.max_held) {
    auto last = std::prev(held_.end());
    Quarantine(last, "`time` " + stdlib::FormatTime(last->first) + " is " + Duration(last->first - stream_time_) +
                         " ahead of the stream time " + stdlib::FormatTime(stream_time_) + ", and the hold is full (" +
                         std::to_string(options_.max_held) + " events)");
  }
}

StreamClock::Held::iterator StreamClock::Corroborating(Held::iterator at, bool any_patient) {
  // The earliest such event: the stream then jumps no further than the agreement needs.
  const int64_t reach = options_.max_ahead_ms;
  auto other = [&](Held::iterator it) { return any_patient || it->second.patient != at->second.patient; };
  Held::iterator found = held_.end();
  int steps = 0;
  for (auto it = at; it != held_.begin() && steps < kSearchLimit; ++steps) {
    --it;
    if (at->first - it->first > reach) break;
    if (other(it)) found = it;
  }
  if (found != held_.end()) return found;
  steps = 0;
  for (auto it = std::next(at); it != held_.end() && it->first - at->first <= reach && steps < kSearchLimit; ++it, ++steps) {
    if (other(it)) return it;
  }
  return held_.end();
}

bool StreamClock::TryJump(Held::iterator at, bool any_patient) {
  auto other = Corroborating(at, any_patient);
  if (other == held_.end()) return false;
  JumpTo(std::min(at->first, other->first));
  return true;
}

void StreamClock::JumpTo(int64_t time) {
  if (!set_ || time > stream_time_) {
    set_ = true;
    stream_time_ = time;
    ClockAction a;
    a.kind = ClockAction::Jump;
    a.time = time;
    actions_.push_back(std::move(a));
  }
  ReleaseReached();
}

void StreamClock::ReleaseReached() {
  std::vector<HeldEvent> batch;
  while (!held_.empty() && held_.begin()->first <= stream_time_ + options_.max_ahead_ms) {
    auto node = held_.extract(held_.begin());
    stream_time_ = std::max(stream_time_, node.key());
    batch.push_back(std::move(node.mapped()));
  }
  std::sort(batch.begin(), batch.end(), [](const HeldEvent& a, const HeldEvent& b) { return a.arrival < b.arrival; });
  for (HeldEvent& e : batch) {
    ClockAction a;
    a.kind = ClockAction::Release;
    a.time = e.time;
    a.event = std::move(e);
    actions_.push_back(std::move(a));
  }
}

void StreamClock::Quarantine(Held::iterator it, const std::string& why) {
  ClockAction a;
  a.kind = ClockAction::Quarantine;
  a.time = it->first;
  a.event = std::move(it->second);
  a.reason = why;
  held_.erase(it);
  ++quarantined_;
  actions_.push_back(std::move(a));
}

void StreamClock::ReleaseWithinReach() {
  if (held_.empty()) return;
  if (!set_) {
    // (A jump releases held events: `it` is not used after one.)
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (TryJump(it, /*any_patient=*/true)) break;
    }
    if (!set_) JumpTo(held_.begin()->first);
  }
  while (!held_.empty() && held_.begin()->first - stream_time_ <= options_.end_reach_ms) JumpTo(held_.begin()->first);
}

void StreamClock::Finish() {
  ReleaseWithinReach();
  while (!held_.empty()) {
    auto it = held_.begin();
    Quarantine(it, "`time` " + stdlib::FormatTime(it->first) + " is " + Duration(it->first - stream_time_) +
                       " ahead of the stream time " + stdlib::FormatTime(stream_time_) +
                       ", and no event of another patient came within " + Duration(options_.max_ahead_ms) + " of it");
  }
}

bool StreamClock::TakeAction(ClockAction& action) {
  action = std::move(actions_.front());
  actions_.pop_front();
  return true;
}

void StreamClock::Save(CheckpointWriter& out) const {
  out.Bool(set_);
  out.I64(stream_time_);
  out.U64(arrivals_);
  out.U64(quarantined_);
  out.U64(held_.size());
  for (const auto& [time, e] : held_) {  // in time order, arrivals kept: the order they are released in
    out.U64(e.line);
    out.Text(e.text);
    out.I64(e.time);
    out.Text(e.patient);
    out.U64(e.arrival);
  }
}

bool StreamClock::Restore(CheckpointReader& in) {
  set_ = in.Bool();
  stream_time_ = in.I64();
  arrivals_ = in.U64();
  quarantined_ = in.U64();
  for (uint64_t i = 0, n = in.Count(40); i < n && !in.failed(); ++i) {
    HeldEvent e;
    e.line = in.U64();
    e.text = in.Text();
    e.time = in.I64();
    e.patient = in.Text();
    e.arrival = in.U64();
    held_.emplace_hint(held_.end(), e.time, std::move(e));
  }
  return !in.failed();
}

}  // namespace cdr::runtime
