// compiler/driver/fhir_http.h: `cdr serve --source http:HOST:PORT`: FHIR R4 over HTTP. Each
// POST (a resource or a Bundle: a subscription notification, a transaction) is checked
// (parsed and translated by the fhir input format), appended to the journal with fsync,
// and only then answered 200; 400 (not JSON, not a resource), 415, 422 (nothing of it can
// be used), 503 (it could not be stored: send again), each with an OperationOutcome.
// The pipeline follows the journal.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/journal.h"

namespace cdr::driver {

struct FhirReceiverStats {
  uint64_t requests = 0, stored = 0, refused = 0, not_stored = 0;
};

class FhirReceiver {
 public:
  explicit FhirReceiver(runtime::Journal& journal) : journal_(journal) {}
  ~FhirReceiver();
  /// Binds HOST:PORT (PORT 0: any free one) and serves on threads. False, with the reason.
  bool Start(const std::string& host, int port, std::string& error);
  void Stop();
  const std::string& address() const { return bound_; }
  FhirReceiverStats stats() const;

 private:
  void Post(const httplib::Request& req, httplib::Response& res);
  runtime::Journal& journal_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string bound_;
  mutable std::mutex mu_;
  FhirReceiverStats stats_;
};

}  // namespace cdr::driver
