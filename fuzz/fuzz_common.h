// fuzz/fuzz_common.h: shared setup for the libFuzzer targets: the shipped rule set,
// compiled once per process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "compiler/driver/frontend.h"
#include "runtime/decode.h"
#include "runtime/input_format.h"

namespace cdr::fuzz {

inline const driver::Frontend& ShippedRules() {
  static driver::Frontend* fe = [] {
    auto* f = new driver::Frontend();
    std::string error;
    if (!f->Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error) || f->diags.error_count() > 0) {
      std::fprintf(stderr, "fuzz: the shipped rules do not compile\n");
      std::abort();
    }
    return f;
  }();
  return *fe;
}

/// A finding: print why and abort, so libFuzzer saves the input.
[[noreturn]] inline void Fail(const char* why) {
  std::fprintf(stderr, "fuzz: %s\n", why);
  std::abort();
}

/// Any bytes as a stream of an input format (runtime/input_format.h): cut into records,
/// each translated; every refusal says why, and every event the format writes is an
/// event the decoder reads as one (its fields and times well formed: whatever it refuses,
/// for an unknown code or a value, is the schemas' business). `each`, when given, also
/// sees every record.
template <typename Each>
void CheckFormat(const char* name, const uint8_t* data, size_t size, Each each) {
  static runtime::Interner interner;
  static runtime::EventDecoder decoder(ShippedRules().module, interner);
  std::string error;
  static std::unique_ptr<runtime::InputFormat> format = runtime::MakeInputFormat(name, {}, error);
  struct Sink : runtime::RecordSink {
    Each& each;
    runtime::Translation translation;
    explicit Sink(Each& e) : each(e) {}
    void OnRecord(const runtime::Record& record) override {
      each(record.text);
      format->TranslateRecord(record, translation);
      for (const auto& item : translation.items) {
        if (item.event.empty()) {
          if (item.reason.empty()) Fail("a part of a record refused without a reason");
          continue;
        }
        runtime::Event event;
        auto reason = decoder.Decode(item.event, event);
        // The reasons of a malformed event, by their start (a reason may quote the event's
        // own text: an unknown code `... RFC 3339 ...` is the schemas' business).
        if (reason && (reason->rfind("not JSON", 0) == 0 || reason->rfind("missing", 0) == 0 ||
                       reason->rfind("`time` ", 0) == 0 || reason->rfind("`recorded` ", 0) == 0 ||
                       reason->rfind("duplicate", 0) == 0)) {
          std::fprintf(stderr, "fuzz: %s\n%s\n", reason->c_str(), item.event.c_str());
          Fail("the format wrote an event the decoder cannot read");
        }
      }
    }
    void OnStray(const runtime::Record&, std::string reason) override {
      if (reason.empty()) Fail("text outside records refused without a reason");
    }
  } sink(each);
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  runtime::SplitStream(*format, [&](char* to, size_t n) -> long {
    const size_t k = std::min(n, bytes.size() - at);
    std::copy_n(bytes.data() + at, k, to);
    at += k;
    return static_cast<long>(k);
  }, sink);
}

}  // namespace cdr::fuzz
