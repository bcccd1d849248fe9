// bench/news2_replay.cpp: events/s per core of the NEWS2 rule over a replay stream, end
// to end from NDJSON, on the interpreter, on the JIT, and on a hand-written C++ NEWS2
// installed through the same native ABI (runtime/interpreter.h, NativeBlock): the floor
// for what native code can do inside the same engine. Runs are interleaved; every mode
// must write the same alerts (checked), so the three compute the same thing.
// Usage: cdr_news2_replay STREAM.ndjson [RUNS]   (bench/replay.sh generates the stream)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/news2_by_hand.h"
#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
#include "stdlib/hash.h"

namespace {

using cdr::runtime::NativeEnv;
using cdr::runtime::StoredEvent;
using cdr::runtime::Value;

// Where the rule's values live (from its IR), for the hand-written block.
struct Layout {
  int32_t lets[16] = {};  // in the order of the rule's lets (see Let below)
  int32_t whens[3] = {};
  std::vector<int32_t> aggs;  // aggregate instructions (for evidence)
};
Layout g_layout;

enum Let {
  kRr,
  kSat,
  kSys,
  kPulse,
  kT,
  kAcvpu,
  kOxygen,
  kRrScore,
  kSpo2Score,
  kAirScore,
  kSbpScore,
  kPulseScore,
  kAcvpuScore,
  kTempScore,
  kScore,
  kSingleRed,
  kLets
};
const char* const kLetNames[kLets] = {
    "rr",         "sat",       "sys",       "pulse",       "t",           "acvpu",      "oxygen", "rr_score",
    "spo2_score", "air_score", "sbp_score", "pulse_score", "acvpu_score", "temp_score", "score",  "single_red"};

// NEWS2 by hand (bench/news2_by_hand.h) as the rule's native block: the rule's slots
// are in the order of cdr::bench::News2Input; the lets and `when` conditions go to the
// registers the engine reads.
void News2Block(void* ctx, int64_t now, Value* regs, const NativeEnv* env, int32_t flags) {
  namespace b = cdr::bench;
  const Layout& l = g_layout;
  if (flags & cdr::runtime::kNativeEvidence) {
    for (int32_t a : l.aggs) cdr_rt_inst(ctx, 0, a, now, regs, &regs[a]);  // the runtime records evidence
  }
  const StoredEvent* v[b::kNews2Inputs];
  for (int k = 0; k < b::kNews2Inputs; ++k) v[k] = b::Latest4h(env->spans[k].data, env->spans[k].size, now);
  b::News2Scores s = b::News2(v, env->texts[0]);  // the rule's text 0 is `alert` (checked in main)
  auto put = [&](int let, bool known, int64_t x) { regs[l.lets[let]] = Value{known ? x : 0, known}; };
  auto latest = [&](int let, const StoredEvent* e) { put(let, e, e ? e->value : 0); };
  latest(kRr, v[b::kRr]);
  latest(kSat, v[b::kSpo2]);
  latest(kSys, v[b::kSbp]);
  latest(kPulse, v[b::kHr]);
  latest(kT, v[b::kTemp]);
  latest(kAcvpu, v[b::kAcvpu]);
  put(kOxygen, s.oxygen_known, s.oxygen);
  put(kRrScore, true, s.rr);
  put(kSpo2Score, true, s.spo2);
  put(kAirScore, true, s.air);
  put(kSbpScore, true, s.sbp);
  put(kPulseScore, true, s.pulse);
  put(kAcvpuScore, true, s.acvpu);
  put(kTempScore, true, s.temp);
  put(kScore, true, s.total);
  put(kSingleRed, true, s.single_red);
  regs[l.whens[0]] = Value{s.total >= 7, true};
  regs[l.whens[1]] = Value{s.total >= 5, true};
  regs[l.whens[2]] = Value{s.single_red, true};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s STREAM.ndjson [RUNS]\n", argv[0]);
    return 2;
  }
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string src = CDR_SOURCE_DIR;
  cdr::driver::Frontend fe;
  std::string error;
  fe.Compile({src + "/rules/schema", src + "/rules/ruleset.cdr", src + "/rules/news2.cdr"}, error);
  if (fe.diags.error_count() || fe.module.rules.size() != 1) {
    std::fprintf(stderr, "news2_replay: the NEWS2 rule does not compile\n");
    return 1;
  }
  const cdr::ir::Rule& rule = fe.module.rules[0];
  static const char* const kSlots[cdr::bench::kNews2Inputs] = {"resp_rate", "spo2",          "sbp",       "heart_rate",
                                                               "temp",      "consciousness", "on_oxygen", "fio2"};
  for (int k = 0; k < cdr::bench::kNews2Inputs; ++k) {
    if (rule.slots.size() != cdr::bench::kNews2Inputs ||
        fe.module.signals[static_cast<size_t>(rule.slots[static_cast<size_t>(k)].signal)].name != kSlots[k]) {
      std::fprintf(stderr, "news2_replay: the hand-written block expects the rule's slots in News2Input order\n");
      return 1;
    }
  }
  if (rule.texts.empty() || rule.texts[0] != "alert") {
    std::fprintf(stderr, "news2_replay: the hand-written block expects the rule's text 0 to be `alert`\n");
    return 1;
  }
  for (int k = 0; k < kLets; ++k) {
    auto it = std::find_if(rule.lets.begin(), rule.lets.end(), [&](const auto& x) { return x.name == kLetNames[k]; });
    if (it == rule.lets.end()) {
      std::fprintf(stderr, "news2_replay: the rule has no let %s\n", kLetNames[k]);
      return 1;
    }
    g_layout.lets[k] = it->inst;
  }
  for (int w = 0; w < 3; ++w) g_layout.whens[w] = rule.whens[static_cast<size_t>(w)].cond;
  for (size_t i = 0; i < rule.blocks[0].insts.size(); ++i) {
    if (rule.blocks[0].insts[i].op == cdr::ir::Op::Agg) g_layout.aggs.push_back(static_cast<int32_t>(i));
  }
  std::vector<std::vector<cdr::runtime::NativeBlock>> jit;
  if (auto err = cdr::jit::CompileModule(fe.module, 2, jit)) {
    std::fprintf(stderr, "news2_replay: %s\n", err->c_str());
    return 1;
  }
  std::vector<std::vector<cdr::runtime::NativeBlock>> hand = {{&News2Block}};
  size_t events = 0;
  {
    std::ifstream in(argv[1], std::ios::binary);
    std::string line;
    while (std::getline(in, line)) ++events;
  }
  if (!events) {
    std::fprintf(stderr, "news2_replay: no events in %s\n", argv[1]);
    return 2;
  }

  struct Mode {
    const char* name;
    std::vector<std::vector<cdr::runtime::NativeBlock>>* native;
    std::vector<double> seconds;
    std::string alerts_hash;
  };
  std::vector<Mode> modes = {{"interpreter", nullptr, {}, {}}, {"jit", &jit, {}, {}}, {"hand-written", &hand, {}, {}}};
  for (int r = 0; r < runs; ++r) {
    for (auto& m : modes) {
      cdr::runtime::EngineOptions options;
      if (m.native) options.native = *m.native;
      int fd = ::open(argv[1], O_RDONLY);
      std::ostringstream alerts;
      auto start = std::chrono::steady_clock::now();
      // The engine's state is freed at the end of each run (the same cost in every mode).
      cdr::runtime::RunFileHost(fe.module, cdr::runtime::FdSource(fd), {&alerts, nullptr, nullptr, nullptr}, options);
      ::close(fd);
      m.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      std::string hash = cdr::stdlib::Sha256Hex(alerts.str());
      if (!m.alerts_hash.empty() && m.alerts_hash != hash)
        std::fprintf(stderr, "news2_replay: %s is not deterministic\n", m.name);
      m.alerts_hash = hash;
      std::fprintf(stderr, "news2_replay: run %d, %s: %.2f s\n", r + 1, m.name, m.seconds.back());
    }
  }
  int status = 0;
  for (auto& m : modes) {
    std::sort(m.seconds.begin(), m.seconds.end());
    double median = m.seconds[m.seconds.size() / 2];
    std::printf("news2_replay %s: %zu events, median of %d runs %.2f s, %.0f events/s, %.0f ns/event\n", m.name, events,
                runs, median, static_cast<double>(events) / median, median * 1e9 / static_cast<double>(events));
    if (m.alerts_hash != modes[0].alerts_hash) {
      std::fprintf(stderr, "news2_replay: %s wrote other alerts than the interpreter\n", m.name);
      status = 1;
    }
  }
  return status;
}
