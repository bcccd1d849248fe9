// bench/window_bench.cpp: the cost of one evaluation point of each aggregate with 1k, 10k,
// 100k and 1M events in its window (one event a second, the point at the newest), on the
// interpreter and the JIT; and of a point in the middle of the history (re-evaluation
// after a late event), where everything after the point must be stepped over. `for` and
// sequences are measured too (over 12 days of events). `for` runs with the engine's
// SustainedMemo: `newest` is then a stream of points, one at each event of the list's
// second half in time order (each learns the change instants since the one before; when
// they run out the memo is dropped and the first point learns the whole window again),
// and `middle` a re-evaluation at the middle event after a change there.
// `scan` is the interpreter told that no list has a window index, and `for` evaluated
// without a memo (the condition at every change instant of the window): each aggregate
// the way it was evaluated before the index and the memo.
// Run: build-release/bin/cdr_window_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/interpreter.h"
#include "runtime/window.h"

namespace {

using cdr::runtime::PatientEvents;
using cdr::runtime::Value;

const char* const kAggregates[] = {"last", "first", "min", "max", "avg", "sum", "count", "exists", "delta", "slope",
                                   "time_since", "sustained", "sequence"};

// The rule's let for each: an aggregate over the 12 days, `for` over them (a condition
// that holds: every change instant is checked), and a sequence within them.
std::string Let(const std::string& agg) {
  if (agg == "sustained") return "x >= 0 '/min' for 12d";
  if (agg == "sequence") return "x then x within 12d";
  return agg + "(x within 12d)";
}

struct Setup {
  cdr::driver::Frontend fe;
  cdr::runtime::Interner interner;
  std::map<std::string, cdr::runtime::LoadedRule> interp, native, scan;
  std::map<int64_t, std::unique_ptr<PatientEvents>> events;  // by number of events
};

Setup& Get() {
  static Setup* s = [] {
    auto* s = new Setup();
    std::string text = "schema s version \"1.0.0\"\n  signal x : quantity '/min' plausible 0 .. 1000\n";
    for (const char* agg : kAggregates) {
      text += std::string("\nrule r_") + agg + " version \"1.0.0\"\n  title \"t\"\n  owner \"o\"\n  status draft\n" +
              "  cites \"c\"\n  uses s\n  let v = " + Let(agg) + "\n  when v is null alert low \"v\"\n";
    }
    s->fe.AddText("window_bench.cdr", text);
    s->fe.Check();
    if (!s->fe.Lower()) {
      std::fprintf(stderr, "window_bench: %s\n", cdr::diag::FormatText(s->fe.diags).c_str());
      std::abort();
    }
    const auto& m = s->fe.module;
    std::vector<int32_t> identity(m.signals.size());
    for (size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int32_t>(i);
    const auto needs = cdr::runtime::WindowNeeds(m, identity);
    for (const auto& rule : m.rules) {
      std::string agg = rule.id.substr(2);
      s->interp[agg] = cdr::runtime::Load(m, rule, s->interner, identity, needs);
      s->native[agg] = s->interp[agg];
      s->scan[agg] = cdr::runtime::Load(m, rule, s->interner, identity);  // no index
      if (auto err = cdr::jit::Compile(rule, 2, s->native[agg].native)) {
        std::fprintf(stderr, "window_bench: %s\n", err->c_str());
        std::abort();
      }
    }
    for (int64_t n : {1000, 10000, 100000, 1000000}) {
      auto events = std::make_unique<PatientEvents>();
      events->by_signal.resize(m.signals.size());
      auto& list = events->by_signal[0];
      uint64_t x = 88172645463325252ULL;
      for (int64_t i = 0; i < n; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        list.emplace_back(i * 1000, static_cast<int64_t>(40 + x % 160) * 100000000, true, false, 0);
      }
      s->events[n] = std::move(events);
    }
    return s;
  }();
  return *s;
}

enum class Mode { Interp, Jit, Scan };

// One point: the aggregate over `n` events, evaluated at the newest (`middle`: at the
// middle one, with half the events after it); `for` as the header says.
void Point(benchmark::State& state, const char* agg, Mode mode, bool middle) {
  Setup& s = Get();
  int64_t n = state.range(0);
  const auto& rule = mode == Mode::Jit ? s.native.at(agg) : mode == Mode::Scan ? s.scan.at(agg) : s.interp.at(agg);
  PatientEvents& events = *s.events.at(n);
  int64_t now = (middle ? n / 2 : n - 1) * 1000;
  std::vector<Value> regs;
  bool primed = false;
  auto eval = [&](int64_t t) {
    cdr::runtime::Evaluate(rule, events, t, s.interner, regs, nullptr, nullptr, 30LL * 86400000,
                           cdr::runtime::Wanted::AllLets, primed);
    primed = true;
    benchmark::DoNotOptimize(regs.data());
  };
  if (std::string(agg) == "sustained" && mode != Mode::Scan) {
    auto memo = std::make_unique<cdr::runtime::SustainedMemo>();
    events.sustained = memo.get();
    int64_t next = n / 2;
    for (auto _ : state) {
      if (middle) {
        memo->Changed(rule.ir, now);  // a late event at the middle: re-evaluate there
        eval(now);
        continue;
      }
      if (next == n) {
        next = n / 2;
        memo = std::make_unique<cdr::runtime::SustainedMemo>();
        events.sustained = memo.get();
      }
      eval(next++ * 1000);
    }
    events.sustained = nullptr;
  } else {
    eval(now);  // a list's window index is built on its first read: not a point's cost
    for (auto _ : state) eval(now);
  }
  state.counters["events"] = static_cast<double>(n);
}

void Register() {
  for (const char* agg : kAggregates) {
    for (Mode mode : {Mode::Interp, Mode::Jit, Mode::Scan}) {
      for (bool middle : {false, true}) {
        const char* m = mode == Mode::Interp ? "/interp" : mode == Mode::Jit ? "/jit" : "/scan";
        std::string name = std::string(agg) + m + (middle ? "/middle" : "/newest");
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { Point(st, agg, mode, middle); })
            ->Arg(1000)
            ->Arg(10000)
            ->Arg(100000)
            ->Arg(1000000);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  Get();  // the rules compiled and the lists built before any measurement, not in the first one's time
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
