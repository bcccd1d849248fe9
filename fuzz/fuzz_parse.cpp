// fuzz/fuzz_parse.cpp: any bytes as a .cdr file through the parser.
#include <cstdint>

#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cdr::driver::Frontend fe;
  fe.AddText("fuzz.cdr", std::string(reinterpret_cast<const char*>(data), size));
  (void)cdr::ast::Dump(fe.files[0], true);
  return 0;
}
