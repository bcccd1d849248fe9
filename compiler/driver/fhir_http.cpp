// compiler/driver/fhir_http.cpp: the FHIR HTTP receiver of `cdr serve --source http:`.
#include "compiler/driver/fhir_http.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include "compiler/driver/admin.h"
#include "runtime/input_format.h"

namespace cdr::driver {
namespace {

// An OperationOutcome (FHIR R4) with one issue per reason.
std::string Outcome(const std::string& severity, const std::string& code, const std::vector<std::string>& reasons) {
  nlohmann::json issues = nlohmann::json::array();
  for (const std::string& r : reasons) issues.push_back({{"severity", severity}, {"code", code}, {"diagnostics", r}});
  return nlohmann::json{{"resourceType", "OperationOutcome"}, {"issue", issues}}.dump() + "\n";
}

}  // namespace

FhirReceiver::~FhirReceiver() { Stop(); }

bool FhirReceiver::Start(const std::string& host, int port, std::string& error) {
  server_ = std::make_unique<httplib::Server>();
  server_->set_payload_max_length(runtime::kMaxRecordBytes);
  server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) { Post(req, res); });
  const int bound = ListenHttp(*server_, host, port, thread_);
  if (bound <= 0) {
    error = "http: cannot listen on " + host + ":" + std::to_string(port) +
            " (the address is in use, or not one of this machine)";
    server_.reset();
    return false;
  }
  bound_ = host + ":" + std::to_string(bound);
  return true;
}

void FhirReceiver::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

FhirReceiverStats FhirReceiver::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void FhirReceiver::Post(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.requests;
  }
  auto answer = [&](int status, const std::string& severity, const std::string& code, const std::vector<std::string>& why) {
    res.status = status;
    res.set_content(Outcome(severity, code, why), "application/fhir+json");
    std::lock_guard<std::mutex> lock(mu_);
    (status == 200 ? stats_.stored : status == 503 ? stats_.not_stored : stats_.refused)++;
  };
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("application/fhir+json", 0) != 0 && type.rfind("application/json", 0) != 0) {
    return answer(415, "error", "not-supported",
                  {"Content-Type `" + type.substr(0, 60) + "` is not application/fhir+json (FHIR's JSON)"});
  }
  // Checked as the pipeline will read it: a format of its own per request (its parser
  // is not shared between threads).
  std::string error;
  std::unique_ptr<runtime::InputFormat> format = runtime::MakeInputFormat("fhir", {}, error);
  runtime::Translation t;
  format->Translate(req.body, t);
  const size_t events = t.events();
  const std::vector<std::string> refused = t.reasons();
  // Not JSON, or not a resource: not stored (an unbalanced body would run into the next).
  if (t.malformed) return answer(400, "error", "structure", refused);
  // Stored, refused parts too (the pipeline dead-letters them, for the operators).
  std::string entry = req.body;
  if (entry.empty() || entry.back() != '\n') entry += '\n';
  if (!journal_.Append(entry, error)) {
    res.set_header("Retry-After", "1");
    return answer(503, "error", "transient", {"the notification could not be stored (" + error + "): send it again"});
  }
  if (events == 0 && !refused.empty()) return answer(422, "error", "processing", refused);
  std::vector<std::string> said = {"stored: " + std::to_string(events) + " events, " + std::to_string(refused.size()) +
                                   " parts refused (dead-lettered), " + std::to_string(t.skipped) +
                                   " with nothing a rule reads"};
  said.insert(said.end(), refused.begin(), refused.end());
  answer(200, "information", "informational", said);
}

}  // namespace cdr::driver
