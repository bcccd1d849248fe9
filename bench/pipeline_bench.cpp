// bench/pipeline_bench.cpp: per-event costs of the runtime on a generated stream held in
// memory: NDJSON decoding alone (simdjson), and the whole pipeline (decode, engine,
// interpreter, alert output) with the shipped rule set, and the engine alone (events
// decoded beforehand: what the engine and the interpreter cost without the decoder).
// Run: build-release/bin/cdr_pipeline_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <deque>
#include <sstream>

#include "bench/bench_common.h"
#include "runtime/decode.h"
#include "runtime/engine.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "runtime/line_reader.h"

namespace {

const cdr::driver::Frontend& Rules() { return cdr::bench::ShippedRules(); }

// The stream of bench/gen_stream.cpp (same generator, run as a child process).
const std::string& Stream() {
  static std::string* s = [] {
    auto* out = new std::string();
    std::string cmd = std::string(CDR_BINARY_DIR) + "/bin/cdr_gen_stream 10000 500000 7";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[1 << 16];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    if (p) pclose(p);
    return out;
  }();
  return *s;
}

void BM_DecodeEvents(benchmark::State& state) {
  const auto& fe = Rules();
  // Decoded in place, as `cdr run` decodes them (runtime/line_reader.h): padding after
  // the last line, so every line can be parsed where it is, without a copy.
  static const std::string padded = Stream() + std::string(cdr::runtime::kLinePadding, ' ');
  const size_t size = padded.size() - cdr::runtime::kLinePadding;
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < size;) {
    size_t nl = padded.find('\n', pos);
    lines.emplace_back(padded.data() + pos, nl - pos);
    pos = nl + 1;
  }
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(fe.module, interner);
  cdr::runtime::Event event;
  size_t i = 0;
  for (auto _ : state) {
    size_t readable = padded.size() - static_cast<size_t>(lines[i].data() - padded.data());
    auto reason = decoder.Decode(lines[i], readable, event);
    benchmark::DoNotOptimize(reason);
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeEvents);

// The stream read by LineReader as `cdr run` reads it (4 MiB blocks) and each line decoded
// in place: reading, splitting and decoding, cold lines as in a replay.
void BM_DecodeLinesAsRead(benchmark::State& state) {
  const auto& fe = Rules();
  const std::string& stream = Stream();
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(fe.module, interner);
  cdr::runtime::Event event;
  uint64_t events = 0, failed = 0;
  for (auto _ : state) {
    std::istringstream in(stream);
    cdr::runtime::LineReader reader(cdr::runtime::StreamSource(in), 4 << 20, 64 << 10);
    cdr::runtime::Line line;
    while (reader.Next(line)) {
      failed += decoder.Decode(line.text, line.readable, event).has_value();
      ++events;
    }
  }
  if (failed) state.SkipWithError("a generated event did not decode");
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_DecodeLinesAsRead)->Unit(benchmark::kMillisecond);

void BM_Pipeline(benchmark::State& state) {
  const auto& fe = Rules();
  const std::string& stream = Stream();
  uint64_t events = 0;
  for (auto _ : state) {
    std::istringstream in(stream);
    std::ostringstream alerts;
    cdr::runtime::JsonLinesSink sink({&alerts});
    auto stats = cdr::runtime::RunFileHost(fe.module, in, {&sink, {}, {}, {}}, {});
    events += stats.read;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_Pipeline)->Unit(benchmark::kMillisecond)->Iterations(3);

// The same stream decoded once beforehand; each iteration runs a fresh engine over it
// (alerts written, as in BM_Pipeline): the engine's and the interpreter's share.
void BM_EngineOnly(benchmark::State& state) {
  const auto& fe = Rules();
  static const std::string padded = Stream() + std::string(cdr::runtime::kLinePadding, ' ');
  const size_t size = padded.size() - cdr::runtime::kLinePadding;
  // The generated stream holds numbers only: no text is interned, so the decoder's
  // interner need not be the engine's.
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(fe.module, interner);
  // An event's texts are views valid until the next decode: kept here (a deque does not
  // move its strings, so the views stay valid).
  std::vector<cdr::runtime::Event> decoded;
  std::deque<std::string> texts;
  for (size_t pos = 0; pos < size;) {
    size_t nl = padded.find('\n', pos);
    cdr::runtime::Event e;
    if (decoder.Decode(std::string_view(padded.data() + pos, nl - pos), padded.size() - pos, e)) {
      state.SkipWithError("a generated event did not decode");
      return;
    }
    e.id = texts.emplace_back(e.id);
    e.patient = texts.emplace_back(e.patient);
    decoded.push_back(e);
    pos = nl + 1;
  }
  uint64_t events = 0;
  for (auto _ : state) {
    std::ostringstream alerts;
    cdr::runtime::JsonLinesSink sink({&alerts});
    cdr::runtime::Engine engine(fe.module, {}, &sink);
    for (const auto& e : decoded) engine.Ingest(e);
    engine.Finish();
    events += decoded.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_EngineOnly)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
