// fuzz/fuzz_import.cpp: any bytes as a PhysioNet .psv stay through the importer; every
// event it writes must decode (units and codes are the importer's own). The one refusal
// allowed is a value outside its signal's plausible range: the importer transcribes what was
// charted, and ingest refuses implausible measurements on purpose (docs/events.md).
#include <cstdint>
#include <sstream>

#include "compiler/driver/commands.h"
#include "fuzz/fuzz_common.h"
#include "runtime/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cdr::runtime::Interner interner;
  static cdr::runtime::EventDecoder decoder(cdr::fuzz::ShippedRules().module, interner);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::ostringstream err;
  std::vector<cdr::driver::PsvRow> rows;
  size_t lines = 0, problems = 0;
  cdr::driver::ReadPsvStay(in, "p1", "fuzz.psv", rows, lines, problems, err);
  cdr::runtime::Event event;
  for (const auto& r : rows) {
    if (auto reason = decoder.Decode(cdr::driver::PsvEventJson(r), event)) {
      if (reason->find("is outside its plausible range") != std::string::npos) continue;
      std::fprintf(stderr, "%s\n", reason->c_str());
      cdr::fuzz::Fail("an imported event does not decode");
    }
  }
  return 0;
}
