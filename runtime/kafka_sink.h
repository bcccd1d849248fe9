// runtime/kafka_sink.h: records to Kafka topics (librdkafka): alerts keyed by patient,
// routed to topics by rule and severity (a routing file, docs/operations.md "Kafka");
// dead letters, late events and, when asked, trace records to topics of their own. The
// producer is idempotent (no duplicates from its own retries; order kept per partition).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/sink.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace cdr::runtime {

/// Which topic an alert goes to. Lines of `RULE SEVERITY TOPIC` (`*` matches any rule or
/// severity), first match wins; `#` starts a comment. An alert no line matches goes to the
/// default topic.
struct AlertRouting {
  struct Route {
    std::string rule, severity, topic;
  };
  std::vector<Route> routes;
  /// Reads a routing file's text (`name` for messages); nullopt and the reason (with its
  /// line) when a line is not `RULE SEVERITY TOPIC`.
  static std::optional<AlertRouting> Parse(std::string_view text, const std::string& name, std::string& error);
  /// The topic of an alert, or `fallback` when no line matches.
  const std::string& TopicOf(std::string_view rule, std::string_view severity, const std::string& fallback) const;
};

/// A librdkafka configuration of `settings` and then `extra` (the operator's, which win);
/// null, with the setting refused and why (`what`: "consumer", "producer"), when one is.
rd_kafka_conf_t* KafkaConf(const std::vector<std::pair<std::string, std::string>>& settings,
                           const std::vector<std::pair<std::string, std::string>>& extra, const std::string& what,
                           std::string& error);

/// A producer: an idempotent librdkafka producer whose deliveries are counted.
class KafkaProducer {
 public:
  /// `config`: extra librdkafka settings (`--kafka-option key=value`).
  static std::unique_ptr<KafkaProducer> Create(const std::string& brokers,
                                               const std::vector<std::pair<std::string, std::string>>& config,
                                               std::string& error);
  ~KafkaProducer();
  /// Queues one message (waiting while the local queue is full). False once a delivery
  /// or a queueing has failed: error() says which topic and why.
  bool Produce(const std::string& topic, std::string_view key, std::string_view value);
  /// Queues a tombstone (a null value: compaction deletes the key).
  bool ProduceTombstone(const std::string& topic, std::string_view key);
  /// Waits until every queued message is delivered (or `timeout_ms` passed). False when
  /// one failed or the time ran out.
  bool Flush(int timeout_ms);
  /// Serves delivery reports (cheap; call now and then).
  void Poll();
  const std::string& error() const { return error_; }
  uint64_t delivered() const { return delivered_; }
  rd_kafka_t* handle() { return rk_; }

 private:
  static void OnDelivery(rd_kafka_t* rk, const void* message, void* opaque);
  bool Send(const std::string& topic, std::string_view key, const char* value, size_t size);
  rd_kafka_t* rk_ = nullptr;
  std::string error_;
  uint64_t delivered_ = 0;
};

/// Where a KafkaSink's records go.
struct KafkaTopics {
  std::string alerts;  // alerts no route names
  AlertRouting routing;
  std::string dead_letter, late, trace;  // empty: not written
  std::string shadow;                    // the alerts of rules running in shadow, never routed
};

/// The sink of a Kafka host. The host tells it where in the input it is (SetPosition)
/// before each message: refusals name the partition and offset, and records made while
/// the host replays what was already committed are not produced again.
class KafkaSink : public AlertSink {
 public:
  KafkaSink(KafkaProducer& producer, KafkaTopics topics) : producer_(producer), topics_(std::move(topics)) {}
  void SetPosition(int32_t partition, int64_t offset, bool muted) {
    partition_ = partition;
    offset_ = offset;
    muted_ = muted;
  }
  void Alert(const AlertRecord& alert) override;
  bool wants_trace() const override { return !topics_.trace.empty(); }
  void Trace(const TraceRecord& record) override;
  void DeadLetter(const Refusal& refusal) override;
  void Late(const Refusal& refusal) override;
  /// Records produced (not muted), by kind.
  uint64_t alerts() const { return alerts_; }
  uint64_t muted() const { return muted_count_; }

 private:
  void Refused(const std::string& topic, const Refusal& refusal);
  KafkaProducer& producer_;
  KafkaTopics topics_;
  int32_t partition_ = -1;
  int64_t offset_ = -1;
  bool muted_ = false;
  uint64_t alerts_ = 0, muted_count_ = 0;
  std::string line_;
};

}  // namespace cdr::runtime
