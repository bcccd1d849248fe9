// bench/news2_by_hand.h: NEWS2 written by hand in C++ from the RCP chart, with the shipped
// rule's bands and conventions (rules/news2.cdr): the floor for what native code can do.
// Shared by bench/jit_bench.cpp (one evaluation point, bare and through the native ABI)
// and bench/news2_replay.cpp (a whole stream, through the native ABI).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/event.h"
#include "runtime/interpreter.h"

namespace cdr::bench {

inline constexpr int64_t kHour = 3600000;
inline constexpr int64_t kOne = 100000000;  // 1.0 as a raw decimal

/// The newest event with a value in (now - 4 h, now] of a time-sorted list, or null.
inline const runtime::StoredEvent* Latest4h(const runtime::StoredEvent* data, int64_t size, int64_t now) {
  for (int64_t i = size; i > 0; --i) {
    const runtime::StoredEvent& e = data[i - 1];
    if (e.time > now) continue;
    if (e.time <= now - 4 * kHour) return nullptr;
    if (e.has_value) return &e;
  }
  return nullptr;
}

/// The latest values NEWS2 reads, in the rule's slot order.
enum News2Input { kRr, kSpo2, kSbp, kHr, kTemp, kAcvpu, kOnOxygen, kFio2, kNews2Inputs };

struct News2Scores {
  int64_t rr, spo2, air, sbp, pulse, acvpu, temp, total;
  bool oxygen_known, oxygen, single_red;
};

/// NEWS2 from the latest values (null: none in the last 4 h); `alert` is the interned id
/// of the ACVPU member 'alert'.
inline News2Scores News2(const runtime::StoredEvent* const (&in)[kNews2Inputs], int64_t alert) {
  auto band = [](const runtime::StoredEvent* e, auto f) -> int64_t { return e ? f(e->value) : 0; };
  News2Scores s{};
  s.rr = band(in[kRr], [](int64_t x) {
    return x <= 8 * kOne ? 3 : x <= 11 * kOne ? 1 : x <= 20 * kOne ? 0 : x <= 24 * kOne ? 2 : 3;
  });
  s.spo2 = band(in[kSpo2], [](int64_t x) { return x <= 91 * kOne ? 3 : x <= 93 * kOne ? 2 : x <= 95 * kOne ? 1 : 0; });
  // (last(on_oxygen) ?? false) or last(fio2) > 0.21, three-valued
  bool o2 = in[kOnOxygen] && in[kOnOxygen]->value;
  s.oxygen_known = o2 || in[kFio2];
  s.oxygen = o2 || (in[kFio2] && in[kFio2]->value > 21000000);
  s.air = s.oxygen_known && s.oxygen ? 2 : 0;
  s.sbp = band(in[kSbp], [](int64_t x) {
    return x <= 90 * kOne ? 3 : x <= 100 * kOne ? 2 : x <= 110 * kOne ? 1 : x < 220 * kOne ? 0 : 3;
  });
  s.pulse = band(in[kHr], [](int64_t x) {
    return x <= 40 * kOne ? 3 : x <= 50 * kOne ? 1 : x <= 90 * kOne ? 0 : x <= 110 * kOne ? 1 : x <= 130 * kOne ? 2 : 3;
  });
  s.acvpu = in[kAcvpu] ? (in[kAcvpu]->value == alert ? 0 : 3) : 0;
  s.temp = band(in[kTemp], [](int64_t x) {
    return x <= 3500000000 ? 3 : x <= 3600000000 ? 1 : x <= 3800000000 ? 0 : x <= 3900000000 ? 1 : 2;
  });
  s.total = s.rr + s.spo2 + s.air + s.sbp + s.pulse + s.acvpu + s.temp;
  s.single_red = s.rr == 3 || s.spo2 == 3 || s.sbp == 3 || s.pulse == 3 || s.acvpu == 3 || s.temp == 3;
  return s;
}


// ---- the same NEWS2 as the rule's native block (runtime/interpreter.h, NativeBlock) ----

/// Where the rule's values live (from its IR), for the hand-written block.
struct News2Layout {
  int32_t lets[16] = {};  // in the order of kNews2LetNames
  int32_t whens[3] = {};
  std::vector<int32_t> aggs;  // aggregate instructions (for evidence)
};
inline News2Layout g_news2_layout;

inline const char* const kNews2LetNames[16] = {
    "rr",         "sat",       "sys",       "pulse",       "t",           "acvpu",      "oxygen", "rr_score",
    "spo2_score", "air_score", "sbp_score", "pulse_score", "acvpu_score", "temp_score", "score",  "single_red"};

/// Checks that the rule has the slots, text and lets the block relies on and records where
/// its values go; the problem otherwise.
inline std::optional<std::string> SetUpNews2Block(const ir::Module& module, const ir::Rule& rule) {
  static const char* const kSlots[kNews2Inputs] = {"resp_rate", "spo2",          "sbp",       "heart_rate",
                                                   "temp",      "consciousness", "on_oxygen", "fio2"};
  for (int k = 0; k < kNews2Inputs; ++k) {
    if (rule.slots.size() != kNews2Inputs ||
        module.signals[static_cast<size_t>(rule.slots[static_cast<size_t>(k)].signal)].name != kSlots[k]) {
      return "the hand-written block expects the rule's slots in News2Input order";
    }
  }
  if (rule.texts.empty() || rule.texts[0] != "alert") {
    return "the hand-written block expects the rule's text 0 to be `alert`";
  }
  News2Layout& l = g_news2_layout;
  for (int k = 0; k < 16; ++k) {
    auto it = std::find_if(rule.lets.begin(), rule.lets.end(),
                           [&](const auto& x) { return x.name == kNews2LetNames[k]; });
    if (it == rule.lets.end()) return std::string("the rule has no let ") + kNews2LetNames[k];
    l.lets[k] = it->inst;
  }
  if (rule.whens.size() != 3) return "the hand-written block expects 3 `when` clauses";
  for (int w = 0; w < 3; ++w) l.whens[w] = rule.whens[static_cast<size_t>(w)].cond;
  l.aggs.clear();
  for (size_t i = 0; i < rule.blocks[0].insts.size(); ++i) {
    if (rule.blocks[0].insts[i].op == ir::Op::Agg) l.aggs.push_back(static_cast<int32_t>(i));
  }
  return std::nullopt;
}

/// NEWS2 by hand as the rule's native block (after SetUpNews2Block): the rule's slots are
/// in the order of News2Input; the lets and `when` conditions go to the registers the
/// engine reads.
inline void News2Block(void* ctx, int64_t now, runtime::Value* regs, const runtime::NativeEnv* env, int32_t flags) {
  using runtime::Value;
  const News2Layout& l = g_news2_layout;
  if (flags & runtime::kNativeEvidence) {
    for (int32_t a : l.aggs) cdr_rt_inst(ctx, 0, a, now, regs, &regs[a]);  // the runtime records evidence
  }
  const runtime::StoredEvent* v[kNews2Inputs];
  for (int k = 0; k < kNews2Inputs; ++k) {
    const auto& span = env->lists[env->slot_list[k]].span();
    v[k] = Latest4h(span.data, span.size, now);
  }
  News2Scores s = News2(v, env->texts[0]);  // the rule's text 0 is `alert` (SetUpNews2Block)
  auto put = [&](int let, bool known, int64_t x) { regs[l.lets[let]] = Value{known ? x : 0, known}; };
  auto latest = [&](int let, const runtime::StoredEvent* e) { put(let, e, e ? e->value : 0); };
  put(14, true, s.total);  // `score`: read by another rule (overdue_observations), always wanted
  if (flags) {  // every let is wanted only with flags (runtime::Wanted)
    for (int k = 0; k < 6; ++k) latest(k, v[k]);  // rr, sat, sys, pulse, t, acvpu: inputs 0 to 5
    put(6, s.oxygen_known, s.oxygen);
    const int64_t scores[9] = {s.rr, s.spo2, s.air, s.sbp, s.pulse, s.acvpu, s.temp, s.total, s.single_red};
    for (int k = 0; k < 9; ++k) put(7 + k, true, scores[k]);
  }
  regs[l.whens[0]] = Value{s.total >= 7, true};
  regs[l.whens[1]] = Value{s.total >= 5, true};
  regs[l.whens[2]] = Value{s.single_red, true};
}

}  // namespace cdr::bench
