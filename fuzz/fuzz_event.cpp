// fuzz/fuzz_event.cpp: any bytes as one NDJSON event line through the decoder.
#include <cstdint>

#include "fuzz/fuzz_common.h"
#include "runtime/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cdr::runtime::Interner interner;
  static cdr::runtime::EventDecoder decoder(cdr::fuzz::ShippedRules().module, interner);
  cdr::runtime::Event event;
  auto reason = decoder.Decode(std::string_view(reinterpret_cast<const char*>(data), size), event);
  if (reason && reason->empty()) cdr::fuzz::Fail("a dead letter without a reason");
  return 0;
}
