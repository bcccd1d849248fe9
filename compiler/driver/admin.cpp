// compiler/driver/admin.cpp: the admin endpoint (compiler/driver/admin.h).
#include "compiler/driver/admin.h"

#include <fmt/format.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace cdr::driver {

namespace {

constexpr const char* kSeverityNames[] = {"low", "medium", "high", "critical"};
static_assert(std::size(kSeverityNames) == runtime::Counters::kSeverities);

// A Prometheus label value: backslash, double quote and newline escaped.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

bool ParseHostPort(const std::string& address, std::string& host, int& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() || address.size() - colon > 6 ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return false;
  }
  port = std::stoi(address.substr(colon + 1));
  host = address.substr(0, colon);
  return port <= 65535;
}

int ListenHttp(httplib::Server& server, const std::string& host, int port, std::thread& thread) {
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return -1;
  thread = std::thread([&server] { server.listen_after_bind(); });
  // Stop before the thread listens would be lost (httplib), and the thread never end:
  // return once it listens.
  for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound;
}

AdminServer::AdminServer(std::string source, std::function<void()> on_reload)
    : source_(std::move(source)), on_reload_(std::move(on_reload)) {}

AdminServer::~AdminServer() { Stop(); }

bool AdminServer::Start(const std::string& given, std::string& error) {
  // A port alone binds the loopback address: the endpoint has no authentication.
  const std::string address =
      !given.empty() && given.find_first_not_of("0123456789") == std::string::npos ? "127.0.0.1:" + given : given;
  std::string host;
  int port = -1;
  if (!ParseHostPort(address, host, port)) {
    error = "--admin " + given + " is not PORT or HOST:PORT (such as 127.0.0.1:9464)";
    return false;
  }
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    bool ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready = metrics_.ready;
    }
    res.status = ready ? 200 : 503;
    res.set_content(nlohmann::json{{"live", true}, {"ready", ready}}.dump() + "\n", "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4");
  });
  server_->Get("/rules", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RulesJson(), "application/json");
  });
  if (on_reload_) {
    server_->Post("/reload", [this](const httplib::Request&, httplib::Response& res) {
      on_reload_();
      res.status = 202;
      res.set_content("{\"requested\":true}\n", "application/json");
    });
    server_->Get("/reload", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      res.set_content(metrics_.last_reload.empty() ? "{}\n" : metrics_.last_reload + "\n", "application/json");
    });
  }
  port_ = ListenHttp(*server_, host, port, thread_);
  if (port_ <= 0) {
    error = "cannot listen on " + address + " (the address is in use, or not one of this machine)";
    server_.reset();
    return false;
  }
  bound_ = host + ":" + std::to_string(port_);
  return true;
}

void AdminServer::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void AdminServer::Publish(const Metrics& m) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ = m;
}

std::string AdminServer::MetricsText() {
  Metrics m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m = metrics_;
  }
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  const std::string src = "source=\"" + Label(source_) + "\"";
  family("cdr_events_read_total", "counter", "Non-blank input lines read.");
  out += fmt::format("cdr_events_read_total{{{}}} {}\n", src, m.stats.read);
  family("cdr_events_used_total", "counter", "Events the rules used.");
  out += fmt::format("cdr_events_used_total{{{}}} {}\n", src, m.stats.used);
  family("cdr_events_dead_lettered_total", "counter", "Events that could not be used (to the dead-letter output).");
  out += fmt::format("cdr_events_dead_lettered_total{{{}}} {}\n", src, m.stats.dead_lettered);
  family("cdr_events_late_total", "counter", "Events later than the allowed lateness (to the late output).");
  out += fmt::format("cdr_events_late_total{{{}}} {}\n", src, m.stats.late);
  for (const auto& [name, by, help] :
       {std::tuple<const char*, const std::vector<uint64_t>*, const char*>{
            "cdr_alerts_fired_total", &m.fired_by, "Alerts fired, per rule and severity."},
        {"cdr_alerts_retracted_total", &m.retracted_by, "Alerts retracted, per rule and severity."}}) {
    family(name, "counter", help);
    for (size_t r = 0; m.module && r < m.module->rules.size(); ++r) {
      for (size_t s = 0; s < runtime::Counters::kSeverities; ++s) {
        size_t at = r * runtime::Counters::kSeverities + s;
        out += fmt::format("{}{{rule=\"{}\",severity=\"{}\"}} {}\n", name, Label(m.module->rules[r].id),
                           kSeverityNames[s], at < by->size() ? (*by)[at] : 0);
      }
    }
  }
  family("cdr_event_to_alert_latency_seconds", "histogram",
         "From reading an event's line to the return of the write of the alerts it made.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += m.latency.counts[i];
    out += fmt::format("cdr_event_to_alert_latency_seconds_bucket{{le=\"{}\"}} {}\n", LatencyHistogram::kBounds[i],
                       cumulative);
  }
  out += fmt::format("cdr_event_to_alert_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", m.latency.count);
  out += fmt::format("cdr_event_to_alert_latency_seconds_sum {}\ncdr_event_to_alert_latency_seconds_count {}\n",
                     m.latency.sum, m.latency.count);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (m.stream_time != INT64_MIN) {
    family("cdr_stream_time_seconds", "gauge", "The stream's event time (seconds since the epoch).");
    out += fmt::format("cdr_stream_time_seconds {:.3f}\n", m.stream_time / 1000.0);
  }
  if (m.watermark != INT64_MIN) {
    family("cdr_watermark_seconds", "gauge", "The watermark: events before it are late (seconds since the epoch).");
    out += fmt::format("cdr_watermark_seconds {:.3f}\n", m.watermark / 1000.0);
    family("cdr_watermark_lag_seconds", "gauge", "The wall clock minus the watermark.");
    out += fmt::format("cdr_watermark_lag_seconds {:.3f}\n", now - m.watermark / 1000.0);
  }
  family("cdr_patients", "gauge", "Distinct patients seen.");
  out += fmt::format("cdr_patients {}\n", m.stats.patients);
  family("cdr_state_bytes", "gauge", "An estimate of the memory the engine's state takes.");
  out += fmt::format("cdr_state_bytes {}\n", m.state_bytes);
  family("cdr_checkpoints_total", "counter", "Checkpoints written by this process.");
  out += fmt::format("cdr_checkpoints_total {}\n", m.checkpoints);
  if (m.has_checkpoint) {
    family("cdr_checkpoint_age_seconds", "gauge", "Time since the last checkpoint was written.");
    out += fmt::format("cdr_checkpoint_age_seconds {:.3f}\n",
                       std::chrono::duration<double>(std::chrono::system_clock::now() - m.last_checkpoint).count());
  }
  if (on_reload_) {
    family("cdr_reloads_total", "counter", "Rule reloads asked for, by outcome.");
    out += fmt::format("cdr_reloads_total{{result=\"done\"}} {}\ncdr_reloads_total{{result=\"refused\"}} {}\n"
                       "cdr_reloads_total{{result=\"unchanged\"}} {}\n",
                       m.reloads_done, m.reloads_refused, m.reloads_unchanged);
  }
  family("cdr_source_rotations_total", "counter", "Times a followed file was replaced (rotated) or cut (truncated).");
  out += fmt::format("cdr_source_rotations_total{{{},kind=\"rotated\"}} {}\n", src, m.rotations);
  out += fmt::format("cdr_source_rotations_total{{{},kind=\"truncated\"}} {}\n", src, m.truncations);
  return out;
}

std::string AdminServer::RulesJson() {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json rules = nlohmann::json::array();
  for (size_t i = 0; metrics_.module && i < metrics_.module->rules.size(); ++i) {
    const ir::Rule& r = metrics_.module->rules[i];
    auto since = metrics_.loaded_since.find(r.id);
    rules.push_back({{"id", r.id}, {"version", r.version}, {"hash", r.hash}, {"status", r.status},
                     {"mode", r.shadow ? "shadow" : "live"}, {"title", r.title},
                     {"loaded_since", since == metrics_.loaded_since.end() ? "" : since->second}});
  }
  return rules.dump(2) + "\n";
}

}  // namespace cdr::driver
