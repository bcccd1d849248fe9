// fuzz/fuzz_import_mimic.cpp: any bytes as the four MIMIC-IV CSV tables (split at 0x01)
// through the importer; every event it writes must decode.
#include <cstdint>
#include <sstream>

#include "compiler/driver/commands.h"
#include "fuzz/fuzz_common.h"
#include "runtime/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cdr::runtime::Interner interner;
  static cdr::runtime::EventDecoder decoder(cdr::fuzz::ShippedRules().module, interner);
  std::vector<std::string> tables(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 1 && tables.size() < 4) tables.emplace_back();
    else tables.back() += static_cast<char>(data[i]);
  }
  std::ostringstream err;
  cdr::runtime::Event event;
  for (const auto& line : cdr::driver::MimicEventsFromText(tables, err)) {
    if (auto reason = decoder.Decode(line, event)) {
      std::fprintf(stderr, "%s\n%s\n", line.c_str(), reason->c_str());
      cdr::fuzz::Fail("an imported event does not decode");
    }
  }
  return 0;
}
