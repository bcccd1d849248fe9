// fuzz/fuzz_hl7v2.cpp: any bytes as a stream of HL7 v2 messages (runtime/hl7v2.h): split
// into messages, each parsed, every field, repetition, component and subcomponent read
// and unescaped, MSH-7 read as a time. Refusals must say why; nothing may crash.
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "runtime/hl7v2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cdr::runtime::hl7v2;
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::vector<MessageText> messages;
  if (auto why = Split(stream, messages)) {
    if (why->empty()) cdr::fuzz::Fail("a stream refused without a reason");
    return 0;
  }
  for (const MessageText& text : messages) {
    if (text.text.substr(0, 3) != "MSH") cdr::fuzz::Fail("a message that does not start with MSH");
    Message m;
    if (auto why = Parse(text.text, m)) {
      if (why->empty()) cdr::fuzz::Fail("a message refused without a reason");
      continue;
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
  }
  return 0;
}
