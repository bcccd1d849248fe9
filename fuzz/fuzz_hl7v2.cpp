// fuzz/fuzz_hl7v2.cpp: any bytes as a stream of HL7 v2 messages (runtime/format_hl7v2.cpp,
// runtime/hl7v2.h): cut into messages, each translated (fuzz_common.h's CheckFormat) and
// parsed, every field, repetition, component and subcomponent read and unescaped, MSH-7
// read as a time. Refusals must say why; nothing may crash.
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_common.h"
#include "runtime/hl7v2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cdr::runtime::hl7v2;
  cdr::fuzz::CheckFormat("hl7v2", data, size, [](std::string_view text) {
    if (text.substr(0, 3) != "MSH") cdr::fuzz::Fail("a message that does not start with MSH");
    Message m;
    if (auto why = Parse(text, m)) {
      if (why->empty()) cdr::fuzz::Fail("a message refused without a reason");
      return;
    }
    for (const Segment& s : m.segments) {
      for (size_t f = 0; f <= s.size(); ++f) {
        const size_t reps = s.Repetitions(f);
        for (size_t r = 0; r <= reps && r < 4; ++r) {
          for (size_t c = 1; c <= 4; ++c) {
            for (size_t sub = 1; sub <= 3; ++sub) (void)s.Get(f, c, sub, r);
          }
        }
      }
    }
    (void)ParseTime(m.segments[0].Get(7), 0);
    (void)ParseTime(m.segments[0].Get(7), std::nullopt);
  });
  return 0;
}
