// bench/lint_bench.cpp: time to lint the shipped rule set (read, parse, check, lint).
// Run: build/bin/cdr_lint_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/driver/frontend.h"
#include "compiler/format/format.h"

namespace {

std::vector<std::pair<std::string, std::string>> RuleFiles() {
  std::vector<std::string> paths;
  std::string error;
  cdr::driver::CollectFiles({std::string(CDR_SOURCE_DIR) + "/rules"}, paths, error);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.emplace_back(p, ss.str());
  }
  return files;
}

// The whole of `cdr lint rules/` minus process start-up, files read from disk.
void BM_LintShippedRules(benchmark::State& state) {
  std::vector<std::string> paths;
  std::string error;
  cdr::driver::CollectFiles({std::string(CDR_SOURCE_DIR) + "/rules"}, paths, error);
  for (auto _ : state) {
    cdr::driver::Frontend fe;
    fe.Load(paths);
    fe.Check();
    benchmark::DoNotOptimize(cdr::diag::FormatText(fe.diags));
  }
  state.counters["files"] = static_cast<double>(paths.size());
}
BENCHMARK(BM_LintShippedRules)->Unit(benchmark::kMillisecond);

// Parsing alone, from memory.
void BM_ParseShippedRules(benchmark::State& state) {
  auto files = RuleFiles();
  for (auto _ : state) {
    cdr::driver::Frontend fe;
    for (const auto& [name, text] : files) fe.AddText(name, text);
    benchmark::DoNotOptimize(fe.files.data());
  }
}
BENCHMARK(BM_ParseShippedRules)->Unit(benchmark::kMillisecond);

// Formatting alone, from parsed trees.
void BM_FormatShippedRules(benchmark::State& state) {
  auto files = RuleFiles();
  cdr::driver::Frontend fe;
  for (const auto& [name, text] : files) fe.AddText(name, text);
  for (auto _ : state) {
    for (size_t i = 0; i < files.size(); ++i) benchmark::DoNotOptimize(cdr::format::Format(fe.files[i], files[i].second));
  }
}
BENCHMARK(BM_FormatShippedRules)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
