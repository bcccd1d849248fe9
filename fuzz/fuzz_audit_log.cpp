// fuzz/fuzz_audit_log.cpp: any bytes as a hash-chained log (compiler/driver/audit_log.h):
// verifying never crashes, and what it accepts holds: every entry verified is one line
// whose `seq` is its position, whose `prev` is the hash of the line before, whose hash is
// its line's; a log that verifies whole ends with a newline after its last entry.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "compiler/driver/audit_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const cdr::driver::LogCheck check = cdr::driver::VerifyLog(text);
  size_t at = 0;
  for (size_t i = 0; i < check.entries.size(); ++i) {
    const cdr::driver::LogEntry& e = check.entries[i];
    if (text.compare(at, e.line.size(), e.line) != 0 || text[at + e.line.size()] != '\n') std::abort();
    if (e.seq != i + 1 || e.hash != cdr::driver::LineHash(e.line)) std::abort();
    const auto& prev = e.json["prev"];
    if (i == 0 ? !prev.is_null() : prev != check.entries[i - 1].hash) std::abort();
    at += e.line.size() + 1;
  }
  if (check.ok && at != text.size()) std::abort();
  if (!check.ok && check.bad_line == 0) std::abort();
  return 0;
}
