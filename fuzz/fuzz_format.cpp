// fuzz/fuzz_format.cpp: format, re-parse, format again: the same text and the same tree.
#include <cstdint>

#include "compiler/format/format.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  cdr::driver::Frontend fe;
  fe.AddText("fuzz.cdr", text);
  if (!fe.files[0].parsed_cleanly) return 0;
  std::string once = cdr::format::Format(fe.files[0], text);
  cdr::driver::Frontend again;
  again.AddText("formatted.cdr", once);
  if (!again.files[0].parsed_cleanly) cdr::fuzz::Fail("formatted text does not parse");
  if (cdr::ast::Dump(again.files[0], false) != cdr::ast::Dump(fe.files[0], false)) {
    cdr::fuzz::Fail("formatting changed the syntax tree");
  }
  if (cdr::format::Format(again.files[0], once) != once) cdr::fuzz::Fail("formatting is not idempotent");
  return 0;
}
