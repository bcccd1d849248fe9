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

#include "stdlib/decimal.h"
#include "stdlib/hash.h"
#include "stdlib/time.h"

namespace cdr::runtime {

using stdlib::Decimal;

struct Engine::Point {
  int first_held = -1;
  uint64_t held_mask = 0;
  std::string alert;  // the alert's fields after "action", when a clause held
  bool traced = false;
};

struct Engine::RuleState {
  std::map<int64_t, Point> points;
  std::map<int64_t, std::pair<int, std::string>> fired;  // time -> (severity rank, alert fields)
};

struct Engine::Patient {
  PatientEvents events;
  std::unordered_map<std::string, std::pair<int32_t, int64_t>> ids;  // event id -> (signal, time)
  std::vector<RuleState> rules;
};

namespace {

int Rank(const std::string& severity) {
  if (severity == "low") return 0;
  if (severity == "medium") return 1;
  if (severity == "high") return 2;
  return 3;
}

constexpr int64_t kDefaultRetentionMs = 24LL * 3600 * 1000;

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string AlertId(const std::string& rule, const std::string& version, const std::string& patient, int64_t time) {
  return stdlib::Sha256Hex(rule + "|" + version + "|" + patient + "|" + std::to_string(time)).substr(0, 32);
}

Engine::Engine(const ir::Module& module, EngineOptions options, Outputs outputs)
    : module_(module), options_(options), out_(outputs) {
  rules_of_signal_.resize(module.signals.size());
  keep_ms_ = module.retention_ms > 0 ? module.retention_ms : kDefaultRetentionMs;
  for (size_t r = 0; r < module.rules.size(); ++r) {
    const ir::Rule& rule = module.rules[r];
    rules_.push_back(Load(module, rule, interner_));
    for (const auto& s : rule.slots) {
      auto& v = rules_of_signal_[static_cast<size_t>(s.signal)];
      if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
    }
    std::vector<std::pair<int32_t, int64_t>> timers;
    for (const auto& t : rule.timers) timers.emplace_back(rule.slots[static_cast<size_t>(t.slot)].signal, t.offset_ms);
    timers_.push_back(timers);
    keep_ms_ = std::max(keep_ms_, rule.longest_window_ms);
    bool unbounded = false;
    for (const auto& b : rule.blocks) {
      for (const auto& in : b.insts) {
        if ((in.op == ir::Op::Agg && in.imm < 0) || in.op == ir::Op::Sequence || in.op == ir::Op::Latest) unbounded = true;
      }
    }
    unbounded_.push_back(unbounded);
  }
  coverage_.resize(module.rules.size());
}

Engine::~Engine() = default;

const Coverage* Engine::CoverageOf(size_t rule) const {
  return rule < coverage_.size() ? &coverage_[rule] : nullptr;
}

Engine::Outcome Engine::Ingest(Event e) {
  if (e.time < watermark_) {
    ++counters_.late;
    return Outcome::Late;
  }
  if (!group_.empty() && (group_.front().patient != e.patient || group_.front().time != e.time)) Flush();
  if (e.status == Status::EnteredInError) {
    bool known = false;
    if (auto it = patients_.find(e.patient); it != patients_.end()) known = it->second->ids.count(e.id) > 0;
    for (const Event& g : group_) known = known || g.id == e.id;
    if (!known) {
      ++counters_.ignored;
      return Outcome::UnknownCorrection;
    }
  }
  group_.push_back(std::move(e));
  return Outcome::Applied;
}

void Engine::Finish() {
  if (!group_.empty()) Flush();
  Finalize(INT64_MAX);
}

void Engine::Apply(Patient& p, const Event& e, std::vector<std::pair<int32_t, int64_t>>& inserted,
                   std::vector<std::pair<int32_t, int64_t>>& removed) {
  // Any event whose id is known replaces (or, entered in error, removes) the earlier one.
  if (auto it = p.ids.find(e.id); it != p.ids.end()) {
    auto [sig, t] = it->second;
    auto& list = p.events.by_signal[static_cast<size_t>(sig)];
    auto pos = std::find_if(list.begin(), list.end(), [&](const StoredEvent& s) { return s.time == t && s.id == e.id; });
    if (pos != list.end()) list.erase(pos);
    p.ids.erase(it);
    removed.emplace_back(sig, t);
  }
  if (e.status == Status::EnteredInError) return;
  auto& list = p.events.by_signal[static_cast<size_t>(e.signal)];
  StoredEvent s{e.time, e.value, e.has_value, e.id};
  auto pos = std::upper_bound(list.begin(), list.end(), s, [](const StoredEvent& a, const StoredEvent& b) {
    return a.time != b.time ? a.time < b.time : a.id < b.id;
  });
  list.insert(pos, std::move(s));
  p.ids[e.id] = {e.signal, e.time};
  inserted.emplace_back(e.signal, e.time);
}

bool Engine::IsPoint(const Patient& p, size_t r, int64_t t) const {
  const LoadedRule& rule = rules_[r];
  auto has_event_at = [&](int32_t sig, int64_t when) {
    const auto& list = p.events.by_signal[static_cast<size_t>(sig)];
    auto it = std::lower_bound(list.begin(), list.end(), when, [](const StoredEvent& e, int64_t x) { return e.time < x; });
    return it != list.end() && it->time == when;
  };
  for (int32_t sig : rule.slot_signal) {
    if (has_event_at(sig, t)) return true;
  }
  if (t <= stream_time_) {
    for (const auto& [sig, off] : timers_[r]) {
      if (has_event_at(sig, t - off)) return true;
    }
  }
  return false;
}

void Engine::Flush() {
  std::vector<Event> group;
  std::swap(group, group_);
  const std::string& pid = group.front().patient;
  int64_t t = group.front().time;
  auto& slot = patients_[pid];
  if (!slot) {
    slot = std::make_unique<Patient>();
    slot->events.by_signal.resize(module_.signals.size());
    slot->rules.resize(rules_.size());
  }
  Patient& p = *slot;
  // Timer points before this group's time come first, as in time order.
  if (t > stream_time_) {
    stream_time_ = t - 1;
    FireTimers(stream_time_);
  }
  std::vector<std::pair<int32_t, int64_t>> inserted, removed;
  for (const Event& e : group) Apply(p, e, inserted, removed);
  counters_.applied += group.size();
  stream_time_ = std::max(stream_time_, t);

  std::vector<size_t> affected;
  for (const auto* list : {&inserted, &removed}) {
    for (const auto& [sig, when] : *list) {
      for (size_t r : rules_of_signal_[static_cast<size_t>(sig)]) {
        if (std::find(affected.begin(), affected.end(), r) == affected.end()) affected.push_back(r);
      }
    }
  }
  std::sort(affected.begin(), affected.end());
  for (size_t r : affected) {
    RuleState& rs = p.rules[r];
    const LoadedRule& rule = rules_[r];
    auto reads = [&](int32_t sig) {
      return std::find(rule.slot_signal.begin(), rule.slot_signal.end(), sig) != rule.slot_signal.end();
    };
    int64_t from = INT64_MAX;
    for (const auto* list : {&inserted, &removed}) {
      for (const auto& [sig, when] : *list) {
        if (reads(sig)) from = std::min(from, when);
      }
    }
    // New points: the times of new events, and the timer points they start.
    for (const auto& [sig, when] : inserted) {
      if (!reads(sig)) continue;
      if (rs.points.try_emplace(when).second) final_due_.push(Due{when, pid, static_cast<int32_t>(r)});
      for (const auto& [tsig, off] : timers_[r]) {
        if (tsig != sig) continue;
        int64_t due = when + off;
        if (due <= stream_time_) {
          if (rs.points.try_emplace(due).second) final_due_.push(Due{due, pid, static_cast<int32_t>(r)});
        } else {
          timers_due_.push(Due{due, pid, static_cast<int32_t>(r)});
        }
      }
    }
    // Points whose only reason was a removed event are no longer points.
    for (const auto& [sig, when] : removed) {
      if (!reads(sig)) continue;
      if (!IsPoint(p, r, when)) rs.points.erase(when);
      for (const auto& [tsig, off] : timers_[r]) {
        if (tsig == sig && !IsPoint(p, r, when + off)) rs.points.erase(when + off);
      }
    }
    int64_t to = unbounded_[r] ? INT64_MAX : from + rule.ir->longest_window_ms;
    Update(pid, p, r, from, to);
    Scan(pid, p, r, from);
  }
  AdvanceTime(stream_time_);
  Evict(p);
  since_sweep_ += group.size();
  if (since_sweep_ >= 200000) {
    since_sweep_ = 0;
    for (auto it = patients_.begin(); it != patients_.end();) {
      Evict(*it->second);
      bool empty = it->second->ids.empty();
      for (const auto& rs : it->second->rules) empty = empty && rs.points.empty() && rs.fired.empty();
      it = empty ? patients_.erase(it) : std::next(it);
    }
  }
}

void Engine::Update(const std::string& pid, Patient& p, size_t r, int64_t from, int64_t to) {
  RuleState& rs = p.rules[r];
  for (auto it = rs.points.lower_bound(from); it != rs.points.end() && it->first <= to; ++it) {
    EvaluatePoint(pid, p, r, it->first);
  }
}

void Engine::EvaluatePoint(const std::string& pid, Patient& p, size_t r, int64_t t) {
  const LoadedRule& rule = rules_[r];
  ++counters_.evaluations;
  Evaluate(rule, p.events, t, interner_, regs_, &evidence_, coverage_enabled_ ? &coverage_[r] : nullptr, keep_ms_);
  Point& point = p.rules[r].points[t];
  point.first_held = -1;
  point.held_mask = 0;
  const auto& whens = rule.ir->whens;
  for (size_t i = 0; i < whens.size(); ++i) {
    const Value& c = regs_[static_cast<size_t>(whens[i].cond)];
    if (c.known && c.v) {
      point.held_mask |= 1ULL << std::min<size_t>(i, 63);
      if (point.first_held < 0) point.first_held = static_cast<int>(i);
    }
  }
  point.alert = point.first_held >= 0 ? AlertJson(pid, r, t, point, regs_, evidence_) : std::string();
}

void Engine::Scan(const std::string& pid, Patient& p, size_t r, int64_t from) {
  RuleState& rs = p.rules[r];
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
    last_rank = prev->second.first;
  }
  std::map<int64_t, std::pair<int, const std::string*>> desired;
  for (auto it = rs.points.lower_bound(from); it != rs.points.end(); ++it) {
    const Point& pt = it->second;
    if (pt.first_held < 0) continue;
    int rank = Rank(rule.whens[static_cast<size_t>(pt.first_held)].severity);
    bool suppressed = have_last && it->first - last_time < rule.suppress_ms && rank <= last_rank;
    if (suppressed) continue;
    desired.emplace(it->first, std::make_pair(rank, &pt.alert));
    have_last = true;
    last_time = it->first;
    last_rank = rank;
  }
  auto line = [&](int64_t t, const char* action, const std::string& fields) {
    if (!out_.alerts) return;
    *out_.alerts << "{\"alert\":\"" << AlertId(rule.id, rule.version, pid, t) << "\",\"action\":\"" << action << "\","
                 << fields << "}\n";
  };
  // Retractions first, then fires, each in time order.
  for (auto it = rs.fired.lower_bound(from); it != rs.fired.end();) {
    auto d = desired.find(it->first);
    if (d == desired.end() || *d->second.second != it->second.second) {
      line(it->first, "retract", it->second.second);
      ++counters_.retracted;
      it = rs.fired.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [t, want] : desired) {
    if (rs.fired.count(t)) continue;
    line(t, "fire", *want.second);
    ++counters_.fired;
    rs.fired.emplace(t, std::make_pair(want.first, *want.second));
  }
}

void Engine::AdvanceTime(int64_t stream_time) {
  FireTimers(stream_time);
  int64_t wm = stream_time == INT64_MIN ? INT64_MIN : stream_time - options_.allowed_lateness_ms;
  if (wm > watermark_) {
    watermark_ = wm;
    Finalize(watermark_);
  }
}

void Engine::FireTimers(int64_t upto) {
  // Timer points whose time the stream has reached are evaluated now.
  while (!timers_due_.empty() && timers_due_.top().time <= upto) {
    Due d = timers_due_.top();
    timers_due_.pop();
    auto it = patients_.find(d.patient);
    if (it == patients_.end()) continue;
    Patient& p = *it->second;
    size_t r = static_cast<size_t>(d.rule);
    if (!IsPoint(p, r, d.time)) continue;  // its event was removed
    if (!p.rules[r].points.try_emplace(d.time).second) continue;
    final_due_.push(Due{d.time, d.patient, d.rule});
    EvaluatePoint(d.patient, p, r, d.time);
    Scan(d.patient, p, r, d.time);
  }
}

void Engine::Finalize(int64_t upto) {
  while (!final_due_.empty() && final_due_.top().time <= upto) {
    Due d = final_due_.top();
    final_due_.pop();
    auto it = patients_.find(d.patient);
    if (it == patients_.end()) continue;
    Patient& p = *it->second;
    size_t r = static_cast<size_t>(d.rule);
    auto pt = p.rules[r].points.find(d.time);
    if (pt == p.rules[r].points.end() || pt->second.traced) continue;
    pt->second.traced = true;
    if (!out_.trace) continue;
    const LoadedRule& rule = rules_[r];
    Evaluate(rule, p.events, d.time, interner_, regs_, nullptr, nullptr, keep_ms_);
    std::string line = "{\"rule\":" + JsonString(rule.ir->id) + ",\"version\":" + JsonString(rule.ir->version) +
                       ",\"patient\":" + JsonString(d.patient) + ",\"time\":\"" + stdlib::FormatTime(d.time) +
                       "\",\"values\":{";
    for (size_t i = 0; i < rule.ir->lets.size(); ++i) {
      const ir::Let& let = rule.ir->lets[i];
      if (i) line += ',';
      line += JsonString(let.name) + ":" + ValueJson(*rule.ir, let, regs_[static_cast<size_t>(let.inst)]);
    }
    line += "},\"held\":[";
    bool first = true;
    for (size_t i = 0; i < rule.ir->whens.size(); ++i) {
      const Value& c = regs_[static_cast<size_t>(rule.ir->whens[i].cond)];
      if (!(c.known && c.v)) continue;
      if (!first) line += ',';
      first = false;
      line += "{\"clause\":" + std::to_string(i + 1) + ",\"severity\":" + JsonString(rule.ir->whens[i].severity) + "}";
    }
    line += "]}\n";
    *out_.trace << line;
    ++counters_.trace_records;
  }
}

void Engine::Evict(Patient& p) {
  if (watermark_ == INT64_MIN) return;
  int64_t cutoff = watermark_ - keep_ms_;
  for (auto& list : p.events.by_signal) {
    size_t n = 0;
    while (n < list.size() && list[n].time < cutoff) {
      p.ids.erase(list[n].id);
      ++n;
    }
    if (n) list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
  }
  for (size_t r = 0; r < p.rules.size(); ++r) {
    RuleState& rs = p.rules[r];
    // Final points (traced, before the watermark) can no longer change.
    for (auto it = rs.points.begin(); it != rs.points.end() && it->first < watermark_ && it->second.traced;) {
      it = rs.points.erase(it);
    }
    int64_t keep_fired = watermark_ - rules_[r].ir->suppress_ms;
    while (!rs.fired.empty() && rs.fired.begin()->first < keep_fired) rs.fired.erase(rs.fired.begin());
  }
}

std::string Engine::ValueJson(const ir::Rule& rule, const ir::Let& let, const Value& v) const {
  if (!v.known) return "null";
  switch (let.kind) {
    case ir::Kind::Bool: return v.v ? "true" : "false";
    case ir::Kind::Int: return std::to_string(v.v);
    case ir::Kind::Dec: return Decimal::FromRaw(v.v).ToShortString();
    case ir::Kind::Text: return JsonString(interner_.Text(v.v));
    case ir::Kind::Time: return "\"" + stdlib::FormatTime(v.v) + "\"";
  }
  return "null";
}

std::string Engine::EventValueJson(int32_t signal, const StoredEvent& e) const {
  if (!e.has_value) return "null";
  switch (module_.signals[static_cast<size_t>(signal)].type) {
    case ir::SignalType::Boolean: return e.value ? "true" : "false";
    case ir::SignalType::Integer: return std::to_string(e.value);
    case ir::SignalType::Quantity:
    case ir::SignalType::Decimal: return Decimal::FromRaw(e.value).ToShortString();
    default: return JsonString(interner_.Text(e.value));
  }
}

std::string Engine::AlertJson(const std::string& patient, size_t r, int64_t t, const Point& point,
                              const std::vector<Value>& regs, const std::vector<std::vector<EventRef>>& evidence) const {
  const ir::Rule& rule = *rules_[r].ir;
  const ir::When& w = rule.whens[static_cast<size_t>(point.first_held)];
  std::string message;
  for (const auto& part : w.message) {
    if (part.let < 0) {
      message += part.text;
      continue;
    }
    const ir::Let& let = rule.lets[static_cast<size_t>(part.let)];
    const Value& v = regs[static_cast<size_t>(let.inst)];
    if (!v.known) {
      message += "unknown";
    } else if (let.kind == ir::Kind::Text) {
      message += interner_.Text(v.v);
    } else {
      std::string text = ValueJson(rule, let, v);
      if (let.kind == ir::Kind::Time) text = text.substr(1, text.size() - 2);  // without quotes
      message += text;
      if (!let.unit.empty() && let.unit != "1") message += " " + let.unit;
    }
  }
  std::string s = "\"rule\":" + JsonString(rule.id) + ",\"version\":" + JsonString(rule.version) +
                  ",\"rule_hash\":" + JsonString(rule.hash) + ",\"patient\":" + JsonString(patient) + ",\"time\":\"" +
                  stdlib::FormatTime(t) + "\",\"severity\":" + JsonString(w.severity) +
                  ",\"message\":" + JsonString(message) + ",\"values\":{";
  for (size_t i = 0; i < rule.lets.size(); ++i) {
    if (i) s += ',';
    s += JsonString(rule.lets[i].name) + ":" + ValueJson(rule, rule.lets[i], regs[static_cast<size_t>(rule.lets[i].inst)]);
  }
  s += "},\"evidence\":[";
  bool first = true;
  for (size_t i = 0; i < rule.evidence.size() && i < evidence.size(); ++i) {
    if (evidence[i].empty()) continue;
    if (!first) s += ',';
    first = false;
    s += "{\"name\":" + JsonString(rule.evidence[i].name) + ",\"events\":[";
    for (size_t k = 0; k < evidence[i].size(); ++k) {
      const EventRef& ref = evidence[i][k];
      if (k) s += ',';
      s += "{\"id\":" + JsonString(ref.event->id) + ",\"time\":\"" + stdlib::FormatTime(ref.event->time) +
           "\",\"value\":" + EventValueJson(ref.signal, *ref.event) + "}";
    }
    s += "]}";
  }
  s += "]";
  return s;
}

}  // namespace cdr::runtime
