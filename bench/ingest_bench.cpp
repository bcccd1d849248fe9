// bench/ingest_bench.cpp: what the input formats cost, on the 150 PhysioNet stays of
// tests/data sent as HL7 v2 ORU^R01 messages and as FHIR R4 Observations (the round-trip
// test's messages: tests/ingest/physionet_to_messages.py, run by the bench into a
// temporary folder), against the same events given as NDJSON:
//   Translate: records cut from the stream (the format's splitter) and translated into
//     event lines;
//   ToEvents: the same, each event line then decoded and mapped through the shipped
//     schemas (what `cdr run --format` does before the engine);
//   NdjsonDecode: the NDJSON events decoded and mapped alone (the baseline).
// Counters: records/s (HL7 messages, FHIR resources or Bundles) and events/s.
// Run: build-release/bin/cdr_ingest_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench/bench_common.h"
#include "runtime/decode.h"
#include "runtime/input_format.h"
#include "runtime/line_reader.h"

namespace {

const cdr::driver::Frontend& Rules() { return cdr::bench::ShippedRules(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The messages and events, made once: the script's HL7 v2 and FHIR files, `cdr import`'s
// NDJSON.
struct Inputs {
  std::string hl7v2, fhir, ndjson;
};
const Inputs& Data() {
  static Inputs* inputs = [] {
    auto* in = new Inputs();
    char dir[] = "/tmp/cdr_ingest_bench.XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    const std::string src = CDR_SOURCE_DIR, out = dir;
    const std::string make = "python3 " + src + "/tests/ingest/physionet_to_messages.py " + src +
                             "/tests/data/physionet2019 " + out + " && " + CDR_BINARY_DIR + "/bin/cdr import physionet2019 " +
                             src + "/tests/data/physionet2019 --out " + out + "/events.ndjson 2>/dev/null";
    if (std::system(make.c_str()) != 0) std::abort();
    in->hl7v2 = ReadFile(out + "/results.hl7");
    in->fhir = ReadFile(out + "/observations.ndjson");
    in->ndjson = ReadFile(out + "/events.ndjson");
    std::system(("rm -rf " + out).c_str());
    return in;
  }();
  return *inputs;
}

// Translates every record of `text`; with a decoder, decodes every event line too.
class Counter final : public cdr::runtime::RecordSink {
 public:
  Counter(const cdr::runtime::InputFormat& format, cdr::runtime::EventDecoder* decoder)
      : format_(format), decoder_(decoder) {}
  void OnRecord(const cdr::runtime::Record& record) override {
    ++records;
    format_.TranslateRecord(record, translation_);
    for (const auto& item : translation_.items) {
      if (item.event.empty()) continue;
      ++events;
      if (decoder_ && decoder_->Decode(item.event, event_)) ++refused;
    }
  }
  void OnStray(const cdr::runtime::Record&, std::string) override {}
  uint64_t records = 0, events = 0, refused = 0;

 private:
  const cdr::runtime::InputFormat& format_;
  cdr::runtime::EventDecoder* decoder_;
  cdr::runtime::Translation translation_;
  cdr::runtime::Event event_;
};

void Run(benchmark::State& state, const char* name, const std::string& text, bool decode) {
  std::string error;
  auto format = cdr::runtime::MakeInputFormat(name, {}, error);
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(Rules().module, interner);
  uint64_t records = 0, events = 0;
  for (auto _ : state) {
    std::istringstream in(text);
    Counter counter(*format, decode ? &decoder : nullptr);
    cdr::runtime::SplitStream(*format, cdr::runtime::StreamSource(in), counter);
    if (counter.refused > 1) state.SkipWithError("events refused: the messages do not map");
    records += counter.records;
    events += counter.events;
  }
  state.counters["records/s"] = benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void BM_Hl7v2Translate(benchmark::State& state) { Run(state, "hl7v2", Data().hl7v2, false); }
void BM_Hl7v2ToEvents(benchmark::State& state) { Run(state, "hl7v2", Data().hl7v2, true); }
void BM_FhirTranslate(benchmark::State& state) { Run(state, "fhir", Data().fhir, false); }
void BM_FhirToEvents(benchmark::State& state) { Run(state, "fhir", Data().fhir, true); }

void BM_NdjsonDecode(benchmark::State& state) {
  const std::string& text = Data().ndjson;
  cdr::runtime::Interner interner;
  cdr::runtime::EventDecoder decoder(Rules().module, interner);
  cdr::runtime::Event event;
  uint64_t events = 0;
  for (auto _ : state) {
    std::istringstream in(text);
    cdr::runtime::LineReader reader(cdr::runtime::StreamSource(in));
    cdr::runtime::Line line;
    while (reader.Next(line)) {
      benchmark::DoNotOptimize(decoder.Decode(line.text, line.readable, event));
      ++events;
    }
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Hl7v2Translate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Hl7v2ToEvents)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FhirTranslate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FhirToEvents)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NdjsonDecode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
