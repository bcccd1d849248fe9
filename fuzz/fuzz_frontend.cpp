// fuzz/fuzz_frontend.cpp: any bytes through the whole front end: parse, check, lint, lower,
// and all three diagnostic printers. The IR of what lowers must verify.
#include <cstdint>

#include "compiler/ir/ir.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cdr::driver::Frontend fe;
  fe.AddText("fuzz.cdr", std::string(reinterpret_cast<const char*>(data), size));
  fe.Check();
  if (fe.Lower() && !cdr::ir::Verify(fe.module).empty()) cdr::fuzz::Fail("lowered IR does not verify");
  (void)cdr::diag::FormatText(fe.diags);
  (void)cdr::diag::FormatJson(fe.diags);
  (void)cdr::diag::FormatSarif(fe.diags, "fuzz");
  return 0;
}
