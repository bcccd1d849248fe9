// fuzz/fuzz_stream.cpp: any bytes as an NDJSON stream through the whole engine with the
// shipped rules (alerts, trace, dead letters, late events). Counters must add up.
#include <cstdint>
#include <sstream>

#include "fuzz/fuzz_common.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::ostringstream alerts, trace, dead, late;
  cdr::runtime::JsonLinesSink sink({&alerts, &trace, &dead, &late});
  cdr::runtime::EngineOptions options;
  options.allowed_lateness_ms = 6LL * 3600 * 1000;
  auto stats = cdr::runtime::RunFileHost(cdr::fuzz::ShippedRules().module, in, {&sink, {}, {}, {}}, options);
  if (stats.read != stats.used + stats.dead_lettered + stats.late) cdr::fuzz::Fail("counters do not add up");
  return 0;
}
