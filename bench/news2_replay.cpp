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
#include "runtime/json_sink.h"
#include "stdlib/hash.h"

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
  if (auto problem = cdr::bench::SetUpNews2Block(fe.module, fe.module.rules[0])) {
    std::fprintf(stderr, "news2_replay: %s\n", problem->c_str());
    return 1;
  }
  std::vector<std::vector<cdr::runtime::NativeBlock>> jit;
  if (auto err = cdr::jit::CompileModule(fe.module, 2, jit)) {
    std::fprintf(stderr, "news2_replay: %s\n", err->c_str());
    return 1;
  }
  std::vector<std::vector<cdr::runtime::NativeBlock>> hand = {{&cdr::bench::News2Block}};
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
      cdr::runtime::JsonLinesSink sink({&alerts});
      auto start = std::chrono::steady_clock::now();
      // The engine's state is freed at the end of each run (the same cost in every mode).
      cdr::runtime::RunFileHost(fe.module, cdr::runtime::FdSource(fd), {&sink, {}, {}, {}}, options);
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
