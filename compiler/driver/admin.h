// compiler/driver/admin.h: the admin endpoint of `cdr serve` (cpp-httplib, on its own
// thread): GET /health, GET /metrics (Prometheus text format), GET /rules. The pipeline
// thread publishes a snapshot of its figures (Metrics) now and then; the endpoint reads
// only that snapshot, never the engine.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/file_host.h"

namespace httplib {
class Server;
}

namespace cdr::driver {

/// HOST:PORT (PORT 0 to 65535, in digits; HOST not empty) into its parts; false when it is
/// not one.
bool ParseHostPort(const std::string& address, std::string& host, int& port);

/// Binds `server` to HOST:PORT (PORT 0: any free one), with SO_REUSEADDR only (httplib's
/// default adds SO_REUSEPORT, which lets a second serve bind the same port and take half
/// of what was meant for the first), and serves on `thread`; returns once it listens.
/// The port bound, or -1.
int ListenHttp(httplib::Server& server, const std::string& host, int port, std::thread& thread);

/// Event-to-alert latency: from the moment an event's line is read to the moment the
/// write of its alerts returns, in buckets (seconds) as Prometheus histograms keep them.
struct LatencyHistogram {
  static constexpr std::array<double, 13> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
  std::array<uint64_t, kBounds.size() + 1> counts{};  // the last: above every bound
  double sum = 0;
  uint64_t count = 0;
  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++counts[i];
    sum += seconds;
    ++count;
  }
};

/// What the admin endpoint reports, as last published by the pipeline.
struct Metrics {
  runtime::HostStats stats;
  std::vector<uint64_t> fired_by, retracted_by;  // runtime::Counters layout
  LatencyHistogram latency;
  int64_t stream_time = INT64_MIN, watermark = INT64_MIN;  // ms since the epoch
  uint64_t state_bytes = 0;
  uint64_t checkpoints = 0;
  std::chrono::system_clock::time_point last_checkpoint{};  // of this process or the one restored
  bool has_checkpoint = false;
  uint64_t rotations = 0, truncations = 0;  // of a followed file
  bool ready = false;  // the rules are loaded and the input is read
  const ir::Module* module = nullptr;                // the rules running (fired_by's layout)
  std::map<std::string, std::string> loaded_since;  // rule id -> when it was loaded
  uint64_t reloads_done = 0, reloads_refused = 0, reloads_unchanged = 0;
  std::string last_reload;  // JSON: the last reload's outcome, or empty
};

class AdminServer {
 public:
  /// `on_reload`: what POST /reload does (asks for a reload; null: 404).
  AdminServer(std::string source, std::function<void()> on_reload);
  ~AdminServer();
  /// Binds `address` (HOST:PORT, or PORT for 127.0.0.1:PORT; PORT 0: any free one) and
  /// serves on a thread. False, with the reason, when it cannot.
  bool Start(const std::string& address, std::string& error);
  /// The address bound, HOST:PORT (after Start).
  const std::string& address() const { return bound_; }
  /// The port bound (after Start).
  int port() const { return port_; }
  void Stop();
  /// The pipeline's new figures.
  void Publish(const Metrics& m);

 private:
  std::string MetricsText();
  std::string RulesJson();

  std::string source_;
  std::function<void()> on_reload_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string bound_;
  std::mutex mu_;
  Metrics metrics_;  // under mu_
};

}  // namespace cdr::driver
