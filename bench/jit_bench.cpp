// bench/jit_bench.cpp: the JIT against the interpreter and against a hand-written C++
// NEWS2 (the floor for what native code can do), on one evaluation point of a patient
// with a day of hourly vitals: bare, and as the rule's native block through the same
// evaluator as the JIT's code (so the difference is the code alone); compile time per
// rule at -O0 and -O2; and the time from the rule files to native code.
// Run: build-release/bin/cdr_jit_bench --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true
//      --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "bench/news2_by_hand.h"
#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/interpreter.h"
#include "runtime/window.h"

namespace {

using cdr::runtime::PatientEvents;
using cdr::runtime::StoredEvent;
using cdr::runtime::Value;

using cdr::bench::kHour;
using cdr::bench::kOne;
constexpr int64_t kRetention = 8 * 24 * kHour;

struct Setup {
  cdr::driver::Frontend fe;
  size_t news2 = 0;
  cdr::runtime::Interner interner;
  cdr::runtime::LoadedRule interp, native, native_o0, hand;
  PatientEvents events;
  int64_t now = 23 * kHour;
  int32_t rr = -1, spo2 = -1, sbp = -1, hr = -1, temp = -1, acvpu = -1, o2 = -1, fio2 = -1;
  int64_t alert_text = 0;
};

int32_t SignalIndex(const cdr::ir::Module& m, const char* name) {
  for (size_t i = 0; i < m.signals.size(); ++i) {
    if (m.signals[i].name == name) return static_cast<int32_t>(i);
  }
  std::fprintf(stderr, "jit_bench: no signal %s\n", name);
  std::abort();
}

Setup& Get() {
  static Setup* s = [] {
    auto* s = new Setup();
    std::string error;
    s->fe.Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error);
    const auto& m = s->fe.module;
    for (size_t r = 0; r < m.rules.size(); ++r) {
      if (m.rules[r].id == "news2") s->news2 = r;
    }
    std::vector<int32_t> identity(m.signals.size());
    for (size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int32_t>(i);
    s->interp = cdr::runtime::Load(m, m.rules[s->news2], s->interner, identity, cdr::runtime::WindowNeeds(m, identity));
    s->native = s->interp;
    s->native_o0 = s->interp;
    s->hand = s->interp;
    if (auto problem = cdr::bench::SetUpNews2Block(m, m.rules[s->news2])) {
      std::fprintf(stderr, "jit_bench: %s\n", problem->c_str());
      std::abort();
    }
    s->hand.native = {&cdr::bench::News2Block};
    if (auto err = cdr::jit::Compile(m.rules[s->news2], 2, s->native.native)) {
      std::fprintf(stderr, "jit_bench: %s\n", err->c_str());
      std::abort();
    }
    if (auto err = cdr::jit::Compile(m.rules[s->news2], 0, s->native_o0.native)) {
      std::fprintf(stderr, "jit_bench: %s\n", err->c_str());
      std::abort();
    }
    s->rr = SignalIndex(m, "resp_rate");
    s->spo2 = SignalIndex(m, "spo2");
    s->sbp = SignalIndex(m, "sbp");
    s->hr = SignalIndex(m, "heart_rate");
    s->temp = SignalIndex(m, "temp");
    s->acvpu = SignalIndex(m, "consciousness");
    s->o2 = SignalIndex(m, "on_oxygen");
    s->fio2 = SignalIndex(m, "fio2");
    s->alert_text = s->interner.Intern("alert");
    s->events.by_signal.resize(m.signals.size());
    // A day of hourly vitals drifting towards deterioration.
    for (int h = 0; h < 24; ++h) {
      auto add = [&](int32_t sig, int64_t raw) {
        s->events.by_signal[static_cast<size_t>(sig)].push_back(
            StoredEvent{h * kHour, raw, true, 0});  // ids are not read by evaluation
      };
      add(s->rr, (14 + h / 3) * kOne);
      add(s->spo2, (97 - h / 6) * kOne);
      add(s->sbp, (125 - h) * kOne);
      add(s->hr, (80 + h * 2) * kOne);
      add(s->temp, 3700000000 + h * 5000000);
    }
    return s;
  }();
  return *s;
}

// NEWS2 by hand (bench/news2_by_hand.h) on the same events.
cdr::bench::News2Scores News2ByHand(const Setup& s, int64_t now) {
  auto last = [&](int32_t sig) {
    const auto& ev = s.events.by_signal[static_cast<size_t>(sig)];
    return cdr::bench::Latest4h(ev.data(), static_cast<int64_t>(ev.size()), now);
  };
  const StoredEvent* in[cdr::bench::kNews2Inputs] = {last(s.rr),   last(s.spo2),  last(s.sbp), last(s.hr),
                                                     last(s.temp), last(s.acvpu), last(s.o2),  last(s.fio2)};
  return cdr::bench::News2(in, s.alert_text);
}

int64_t LetValue(const Setup& s, std::vector<Value>& regs, const char* name) {
  for (const auto& l : s.fe.module.rules[s.news2].lets) {
    if (l.name == name) return regs[static_cast<size_t>(l.inst)].v;
  }
  std::abort();
}

void CheckSame(Setup& s) {
  static bool checked = false;
  if (checked) return;
  checked = true;
  std::vector<Value> a, b, c, d;
  cdr::runtime::Evaluate(s.interp, s.events, s.now, s.interner, a, nullptr, nullptr, kRetention,
                         cdr::runtime::Wanted::AllLets);
  cdr::runtime::Evaluate(s.native, s.events, s.now, s.interner, b, nullptr, nullptr, kRetention,
                         cdr::runtime::Wanted::AllLets);
  cdr::runtime::Evaluate(s.native_o0, s.events, s.now, s.interner, c, nullptr, nullptr, kRetention,
                         cdr::runtime::Wanted::AllLets);
  cdr::runtime::Evaluate(s.hand, s.events, s.now, s.interner, d, nullptr, nullptr, kRetention,
                         cdr::runtime::Wanted::AllLets);
  cdr::bench::News2Scores h = News2ByHand(s, s.now);
  if (LetValue(s, a, "score") != h.total || LetValue(s, b, "score") != h.total || LetValue(s, c, "score") != h.total ||
      LetValue(s, d, "score") != h.total) {
    std::fprintf(stderr, "jit_bench: scores differ: interp %lld, jit %lld, by hand %lld\n",
                 static_cast<long long>(LetValue(s, a, "score")), static_cast<long long>(LetValue(s, b, "score")),
                 static_cast<long long>(h.total));
    std::abort();
  }
}

// One NEWS2 evaluation point on the interpreter, the JIT at -O2 or the JIT at -O0.
void BM_News2(benchmark::State& state, cdr::runtime::LoadedRule Setup::*which) {
  Setup& s = Get();
  CheckSame(s);
  std::vector<Value> regs;
  for (auto _ : state) {
    // As the engine evaluates a point: only the `when` conditions (and the lets other
    // rules read) are wanted; alerts and the trace ask for every let.
    cdr::runtime::Evaluate(s.*which, s.events, s.now, s.interner, regs, nullptr, nullptr, kRetention,
                           cdr::runtime::Wanted::Whens);
    benchmark::DoNotOptimize(regs.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_News2, Interpreter, &Setup::interp);
BENCHMARK_CAPTURE(BM_News2, Jit, &Setup::native);
BENCHMARK_CAPTURE(BM_News2, JitO0, &Setup::native_o0);
BENCHMARK_CAPTURE(BM_News2, HandWrittenBlock, &Setup::hand);

void BM_News2ByHand(benchmark::State& state) {
  Setup& s = Get();
  CheckSame(s);
  for (auto _ : state) {
    cdr::bench::News2Scores h = News2ByHand(s, s.now);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_News2ByHand);

// Compile time of the shipped rule set, anew each time (no cache).
void BM_CompileShippedRules(benchmark::State& state) {
  Setup& s = Get();
  int opt = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<std::vector<cdr::runtime::NativeBlock>> code;
    auto err = cdr::jit::CompileModule(s.fe.module, opt, code, nullptr, /*use_cache=*/false);
    if (err) state.SkipWithError(err->c_str());
  }
  state.counters["rules"] = static_cast<double>(s.fe.module.rules.size());
}
BENCHMARK(BM_CompileShippedRules)->Arg(0)->Arg(2)->Unit(benchmark::kMillisecond);

// From the rule files to native code: read, parse, check, lower, compile at -O0.
void BM_RuleFilesToNativeCode(benchmark::State& state) {
  for (auto _ : state) {
    cdr::driver::Frontend fe;
    std::string error;
    fe.Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error);
    std::vector<std::vector<cdr::runtime::NativeBlock>> code;
    auto err = cdr::jit::CompileModule(fe.module, 0, code, nullptr, /*use_cache=*/false);
    if (err) state.SkipWithError(err->c_str());
  }
}
BENCHMARK(BM_RuleFilesToNativeCode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
