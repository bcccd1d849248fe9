// tests/unit/window_test.cpp: a list's window index stays right through every kind of
// change. Two lists receive the same random appends, late inserts, removals, value
// changes and evictions from the front; one keeps an index of everything, the other
// none. After each change, every aggregate over random windows must be the same on both
// (the unindexed one scans its window: the reference), for decimal and integer values,
// and for events that may lack a value.
#include <gtest/gtest.h>

#include <random>

#include "runtime/interpreter.h"
#include "runtime/window.h"

namespace {

using cdr::runtime::EventList;
using cdr::runtime::StoredEvent;
using cdr::runtime::Value;

std::string Show(const Value& v) { return v.known ? std::to_string(v.v) : "unknown"; }

void Check(const EventList& indexed, uint8_t needs, const EventList& plain, std::mt19937& rng, bool int_signal,
           int64_t span, int step) {
  using A = cdr::ir::AggKind;
  const A kinds[] = {A::Last, A::First, A::Min, A::Max, A::Avg, A::Sum, A::Count, A::Exists, A::Delta, A::Slope,
                     A::TimeSince};
  for (int k = 0; k < 6; ++k) {
    int64_t now = static_cast<int64_t>(rng() % static_cast<uint32_t>(span + 20)) - 10;
    int64_t window = 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(span));
    for (A kind : kinds) {
      auto result = int_signal && kind != A::Avg && kind != A::Slope && kind != A::TimeSince ? cdr::ir::Kind::Int
                                                                                             : cdr::ir::Kind::Dec;
      if (kind == A::Count) result = cdr::ir::Kind::Int;
      if (kind == A::Exists) result = cdr::ir::Kind::Bool;
      Value a = cdr::runtime::WindowAggregate(indexed, now, window, kind, int_signal, result, needs);
      Value b = cdr::runtime::WindowAggregate(plain, now, window, kind, int_signal, result, 0);
      ASSERT_TRUE(a.known == b.known && a.v == b.v)
          << "step " << step << ": " << cdr::stdlib::Name(kind) << " at " << now << " within " << window << ": indexed "
          << Show(a) << ", scanned " << Show(b);
    }
  }
}

void Churn(uint32_t seed, bool int_signal, bool may_lack_values) {
  std::mt19937 rng(seed);
  EventList indexed, plain;
  uint8_t needs = cdr::runtime::kNeedSums | cdr::runtime::kNeedMoments | cdr::runtime::kNeedMinMax;
  if (may_lack_values) needs |= cdr::runtime::kNeedValued;
  int64_t horizon = 0;
  auto value = [&]() -> int64_t {
    int64_t v = static_cast<int64_t>(rng() % 200) - 50;  // repeated values: ties for min and max
    return int_signal ? v : v * 12345678;
  };
  for (int step = 0; step < 600; ++step) {
    uint32_t op = rng() % 20;
    StoredEvent e{horizon, value(), !may_lack_values || rng() % 4 != 0, false, 0};
    if (op < 12 || plain.empty()) {  // append, at the end or at the newest time
      horizon += rng() % 3;
      e.time = horizon;
      indexed.push_back(e);
      plain.push_back(e);
    } else if (op < 15) {  // a late event, anywhere
      e.time = static_cast<int64_t>(rng() % static_cast<uint32_t>(horizon + 1));
      size_t at = static_cast<size_t>(plain.FirstAt(e.time) - plain.begin());
      indexed.insert(indexed.begin() + static_cast<std::ptrdiff_t>(at), e);
      plain.insert(plain.begin() + static_cast<std::ptrdiff_t>(at), e);
    } else if (op < 17) {  // a removal (entered in error)
      size_t at = rng() % plain.size();
      indexed.erase(indexed.begin() + static_cast<std::ptrdiff_t>(at));
      plain.erase(plain.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (op < 19) {  // a changed value (a derived signal's new value)
      size_t at = rng() % plain.size();
      int64_t v = value();
      indexed.SetValue(indexed.begin() + static_cast<std::ptrdiff_t>(at), v);
      plain.SetValue(plain.begin() + static_cast<std::ptrdiff_t>(at), v);
    } else {  // eviction from the front
      size_t n = rng() % (plain.size() / 3 + 1);
      indexed.erase(indexed.begin(), indexed.begin() + static_cast<std::ptrdiff_t>(n));
      plain.erase(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(n));
    }
    Check(indexed, needs, plain, rng, int_signal, horizon + 1, step);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(WindowIndex, AggregatesEqualAScanOfTheWindowThroughEveryChange) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    Churn(seed, /*int_signal=*/false, /*may_lack_values=*/false);
    Churn(seed, /*int_signal=*/true, /*may_lack_values=*/false);
    Churn(seed, /*int_signal=*/false, /*may_lack_values=*/true);
  }
}

}  // namespace
