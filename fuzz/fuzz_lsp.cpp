// fuzz/fuzz_lsp.cpp: any bytes as a language-server conversation (compiler/driver/lsp.h):
// each line one JSON-RPC message, after an `initialize`. Whatever an editor sends, the
// server never crashes, every message it sends is a JSON object, every request (a message
// with an `id` and a `method`) gets exactly one response with that id, and anything else
// gets no response but, when it is not a message at all, one error with the id null.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "compiler/driver/lsp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using json = nlohmann::json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cdr::driver::lsp::Server server;
  auto check = [](const std::vector<std::string>& out, const json& id, bool request) {
    int responses = 0;
    for (const auto& m : out) {
      json j = json::parse(m, nullptr, false);
      if (j.is_discarded() || !j.is_object()) std::abort();
      if (!j.contains("method")) {
        // A response: to the request, or (id null) an error for a message that was none.
        if (request ? j["id"] != id : !j["id"].is_null() || !j.contains("error")) std::abort();
        ++responses;
      }
    }
    if (request && responses != 1) std::abort();
  };
  check(server.Handle(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}})"), 0, true);
  size_t at = 0;
  while (at < text.size() && !server.exited()) {
    size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    json m = json::parse(line, nullptr, false);
    // A request is a message the server reads as one: an object with a string method and an id.
    bool request =
        !m.is_discarded() && m.is_object() && m.contains("id") && m.contains("method") && m["method"].is_string();
    check(server.Handle(line), request ? m["id"] : json(nullptr), request);
    check(server.Flush(), nullptr, false);
  }
  return 0;
}
