// fuzz/fuzz_import_mimic.cpp: any bytes as the four MIMIC-IV CSV tables (split at 0x01)
// through the importer; every line it writes must be a JSON event (a value the engine
// refuses, such as a unit from the source that is not UCUM, is dead-lettered with its
// reason: that is the importer passing the source on faithfully).
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
    auto reason = decoder.Decode(line, event);
    if (reason && (reason->rfind("not JSON", 0) == 0 || reason->rfind("not a JSON object", 0) == 0 ||
                   reason->rfind("missing", 0) == 0)) {
      std::fprintf(stderr, "%s\n%s\n", line.c_str(), reason->c_str());
      cdr::fuzz::Fail("the importer wrote a line that is not a complete JSON event");
    }
  }
  return 0;
}
