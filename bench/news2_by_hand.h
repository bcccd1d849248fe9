// bench/news2_by_hand.h: NEWS2 written by hand in C++ from the RCP chart, with the shipped
// rule's bands and conventions (rules/news2.cdr): the floor for what native code can do.
// Shared by bench/jit_bench.cpp (one evaluation point) and bench/news2_replay.cpp (a
// whole stream, through the native ABI).
#pragma once

#include <cstdint>

#include "runtime/event.h"

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

}  // namespace cdr::bench
