// runtime/kafka_sink.cpp: records to Kafka topics.
#include "runtime/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <sstream>

#include "runtime/json_sink.h"

namespace cdr::runtime {

std::optional<AlertRouting> AlertRouting::Parse(std::string_view text, const std::string& name, std::string& error) {
  AlertRouting routing;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    if (w.size() != 3) {
      error = name + ":" + std::to_string(n) + ": a route is RULE SEVERITY TOPIC (`*` for any rule or severity), not `" +
              line + "`";
      return std::nullopt;
    }
    static const char* kSeverities[] = {"*", "low", "medium", "high", "critical"};
    bool known = false;
    for (const char* s : kSeverities) known = known || w[1] == s;
    if (!known) {
      error = name + ":" + std::to_string(n) + ": `" + w[1] + "` is not a severity (low, medium, high, critical or *)";
      return std::nullopt;
    }
    routing.routes.push_back({w[0], w[1], w[2]});
  }
  return routing;
}

const std::string& AlertRouting::TopicOf(std::string_view rule, std::string_view severity,
                                         const std::string& fallback) const {
  for (const Route& r : routes) {
    if ((r.rule == "*" || r.rule == rule) && (r.severity == "*" || r.severity == severity)) return r.topic;
  }
  return fallback;
}

rd_kafka_conf_t* KafkaConf(const std::vector<std::pair<std::string, std::string>>& settings,
                           const std::vector<std::pair<std::string, std::string>>& extra, const std::string& what,
                           std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto* list : {&settings, &extra}) {
    for (const auto& [key, value] : *list) {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        error = "Kafka " + what + " setting " + key + "=" + value + ": " + err;
        return nullptr;
      }
    }
  }
  return conf;
}

std::unique_ptr<KafkaProducer> KafkaProducer::Create(const std::string& brokers,
                                                     const std::vector<std::pair<std::string, std::string>>& config,
                                                     std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = KafkaConf({{"bootstrap.servers", brokers},
                                     {"enable.idempotence", "true"},  // no duplicates or reordering from retries
                                     {"linger.ms", "1"}},             // alerts go out within milliseconds
                                    config, "producer", error);
  if (!conf) return nullptr;
  auto producer = std::unique_ptr<KafkaProducer>(new KafkaProducer());
  rd_kafka_conf_set_opaque(conf, producer.get());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    OnDelivery(rk, m, opaque);
  });
  producer->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // takes conf when it succeeds
  if (!producer->rk_) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot make a Kafka producer: ") + err;
    return nullptr;
  }
  return producer;
}

KafkaProducer::~KafkaProducer() {
  if (rk_) {
    rd_kafka_flush(rk_, 10000);
    rd_kafka_destroy(rk_);
  }
}

void KafkaProducer::OnDelivery(rd_kafka_t*, const void* message, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto* m = static_cast<const rd_kafka_message_t*>(message);
  if (m->err) {
    if (self->error_.empty()) {
      self->error_ = std::string("cannot produce to Kafka topic ") + rd_kafka_topic_name(m->rkt) + ": " +
                     rd_kafka_err2str(m->err);
    }
  } else {
    ++self->delivered_;
  }
}

bool KafkaProducer::Produce(const std::string& topic, std::string_view key, std::string_view value) {
  return Send(topic, key, value.data() ? value.data() : "", value.size());
}

bool KafkaProducer::ProduceTombstone(const std::string& topic, std::string_view key) {
  return Send(topic, key, nullptr, 0);
}

bool KafkaProducer::Send(const std::string& topic, std::string_view key, const char* value, size_t size) {
  if (!error_.empty()) return false;
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value), size), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      error_ = "cannot produce to Kafka topic " + topic + ": " + rd_kafka_err2str(err);
      return false;
    }
    rd_kafka_poll(rk_, 100);  // the local queue is full: wait for deliveries
  }
  rd_kafka_poll(rk_, 0);
  return error_.empty();
}

bool KafkaProducer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && error_.empty()) {
    error_ = std::string("Kafka deliveries not confirmed within ") + std::to_string(timeout_ms) +
             " ms: " + rd_kafka_err2str(err);
  }
  return error_.empty();
}

void KafkaProducer::Poll() { rd_kafka_poll(rk_, 0); }

void KafkaSink::Alert(const AlertRecord& alert) {
  if (muted_) {
    ++muted_count_;
    return;
  }
  line_.clear();
  AppendAlertJson(line_, alert);
  line_.pop_back();  // a message is one record: no newline
  const std::string& topic = alert.rule->shadow ? topics_.shadow
                                                : topics_.routing.TopicOf(alert.rule->id, alert.severity(), topics_.alerts);
  producer_.Produce(topic, alert.patient, line_);
  ++alerts_;
}

void KafkaSink::Trace(const TraceRecord& record) {
  if (muted_ || topics_.trace.empty()) return;
  line_.clear();
  AppendTraceJson(line_, record);
  line_.pop_back();
  producer_.Produce(topics_.trace, record.patient, line_);
}

void KafkaSink::Refused(const std::string& topic, const Refusal& refusal) {
  if (muted_ || topic.empty()) return;
  Refusal at = refusal;
  at.partition = partition_;
  line_.clear();
  AppendRefusalJson(line_, at, /*with_input=*/true);
  line_.pop_back();
  producer_.Produce(topic, {}, line_);
}

void KafkaSink::DeadLetter(const Refusal& refusal) { Refused(topics_.dead_letter, refusal); }

void KafkaSink::Late(const Refusal& refusal) { Refused(topics_.late, refusal); }

}  // namespace cdr::runtime
