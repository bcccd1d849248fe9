// bench/lsp_bench.cpp: the language server's answers as an editor waits for them, in
// process (no pipe): a hover on rules/news2.cdr, and the diagnostics after an edit of a file
// of the rules folder (the whole rule set checked again and published). Targets (issue 22):
// hover under 50 ms, diagnostics after an edit under 100 ms.
// Run: build/bin/cdr_lsp_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "compiler/driver/lsp.h"

namespace {

using json = nlohmann::json;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kRules = std::string(CDR_SOURCE_DIR) + "/rules";
const std::string kNews2 = kRules + "/news2.cdr";

std::string Message(const std::string& method, json params, int id = 0) {
  json m = {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  if (id) m["id"] = id;
  return m.dump();
}

// A server over the shipped rules with news2.cdr open and its first analysis published.
void Start(cdr::driver::lsp::Server& server, const std::string& text) {
  server.Handle(Message("initialize", {{"rootUri", "file://" + kRules}, {"capabilities", json::object()}}, 1));
  server.Handle(Message("initialized", json::object()));
  server.Handle(Message(
      "textDocument/didOpen",
      {{"textDocument", {{"uri", "file://" + kNews2}, {"languageId", "cdr"}, {"version", 1}, {"text", text}}}}));
  server.Flush();
}

// The line and character of the first `needle` in `text` (ASCII before it).
json PositionOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  size_t line_start = text.rfind('\n', at);
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  int64_t line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  return {{"line", line}, {"character", static_cast<int64_t>(at - line_start)}};
}

void BM_HoverNews2(benchmark::State& state) {
  std::string text = Read(kNews2);
  cdr::driver::lsp::Server server;
  Start(server, text);
  json position = PositionOf(text, "resp_rate within");
  std::string hover =
      Message("textDocument/hover", {{"textDocument", {{"uri", "file://" + kNews2}}}, {"position", position}}, 2);
  for (auto _ : state) {
    auto out = server.Handle(hover);
    if (out.empty() || out.back().find("schema `vitals`") == std::string::npos) state.SkipWithError("no hover");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_HoverNews2)->Unit(benchmark::kMillisecond);

// Each iteration edits news2.cdr (alternately adding and removing an unknown name) and takes
// the diagnostics: the rules folder re-parsed and re-checked, news2.cdr's diagnostics sent.
void BM_DiagnosticsAfterEdit(benchmark::State& state) {
  std::string text = Read(kNews2);
  std::string broken = text +
                       "\nrule broken version \"1.0.0\"\n  title \"x\"\n  owner \"x\"\n  status draft\n"
                       "  cites \"x\"\n  uses vitals\n  let a = last(resp_rat within 4h)\n  when a > 1 '/min' "
                       "alert low \"{a}\"\n";
  cdr::driver::lsp::Server server;
  Start(server, text);
  int version = 1;
  size_t published = 0;
  for (auto _ : state) {
    ++version;
    server.Handle(Message("textDocument/didChange",
                          {{"textDocument", {{"uri", "file://" + kNews2}, {"version", version}}},
                           {"contentChanges", json::array({{{"text", version % 2 ? text : broken}}})}}));
    auto out = server.Flush();
    if (out.empty()) state.SkipWithError("no diagnostics published");
    published += out.size();
  }
  state.counters["published"] = benchmark::Counter(static_cast<double>(published), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_DiagnosticsAfterEdit)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
