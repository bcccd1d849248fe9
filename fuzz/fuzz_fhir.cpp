// fuzz/fuzz_fhir.cpp: any bytes as a stream of FHIR R4 resources (runtime/format_fhir.cpp):
// cut into JSON values, each translated (fuzz_common.h's CheckFormat). Refusals must say
// why, the events written must be well formed; nothing may crash.
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cdr::fuzz::CheckFormat("fhir", data, size, [](std::string_view) {});
  return 0;
}
