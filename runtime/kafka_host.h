// runtime/kafka_host.h: the Kafka host: a member of a consumer group reading NDJSON
// events keyed by patient id. Each partition assigned to it has a pipeline of its own (a
// FileHost: stream clock, stream time, watermark and engine), so a partition's time never
// waits for another's and its state moves with it. Output goes to a KafkaSink.
//
// Delivery is at least once, with deterministic alert ids (docs/operations.md, "Kafka"):
// now and then, once every record produced so far is delivered, the offsets processed are
// committed. A partition newly assigned (a start, a restart, a rebalance) is read from
// the beginning of its retention to rebuild its state; records made while replaying
// messages before its committed offset were delivered already and are not produced
// again. What was produced after the last commit may be produced again after a crash,
// with the same alert ids.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/ir/ir.h"
#include "runtime/engine.h"
#include "runtime/input_format.h"
#include "runtime/file_host.h"
#include "runtime/input_format.h"
#include "runtime/kafka_sink.h"
#include "runtime/kafka_state.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace cdr::runtime {

struct KafkaSourceOptions {
  std::string brokers, topic, group;
  std::vector<std::pair<std::string, std::string>> config;  // extra librdkafka settings
  int64_t commit_every_ms = 1000;
  /// Partition state snapshots (runtime/kafka_state.h): the topic (none when empty), how
  /// often, and the identity of the rules and options (a snapshot of another is not used).
  std::string state_topic;
  int64_t state_every_ms = 60000;
  std::string identity;
  /// A partition with no message for this long does not hold the process's reported
  /// stream time and watermark back (each partition's own pipeline never waits for another).
  int64_t idle_timeout_ms = 60000;
  bool log_commits = false;  // a log line at each commit: every partition's offset, and their total
  /// The messages' format (runtime/input_format.h; "ndjson": events), one record each.
  std::string format = "ndjson";
  FormatOptions format_options;
};

/// What a Kafka host did, over the partitions it holds and held.
struct KafkaStats {
  uint64_t messages = 0;  // read, replays included
  uint64_t replayed = 0;  // of those, before their partition's committed offset (output not produced again)
  uint64_t commits = 0;
  uint64_t commits_skipped = 0;  // refused while the group rebalanced (the next owner replays from the last)
  uint64_t assignments = 0, revocations = 0;
  uint64_t snapshots = 0, restored = 0;  // state snapshots written; partitions restored from one
  HostStats hosts;  // summed over the partitions held now and before
  /// Fires and retractions per rule and severity (Counters' layout), summed over the
  /// partitions held now; the stream time and watermark: the least over them (the
  /// process's, as Flink's is the minimum over its inputs), leaving out partitions idle
  /// longer than the idle timeout unless all are. INT64_MIN: none held.
  std::vector<uint64_t> fired_by, retracted_by;
  int64_t stream_time = INT64_MIN, watermark = INT64_MIN;
  size_t partitions = 0;
  /// Sum of Engine::StateBytes (a walk over every patient) when asked (stats(true)).
  uint64_t state_bytes = 0;
};

class KafkaHost {
 public:
  KafkaHost(const ir::Module& module, const EngineOptions& options, KafkaSink& sink, KafkaProducer& producer,
            KafkaSourceOptions source);
  ~KafkaHost();
  /// Joins the group. False, with the reason, when the consumer cannot be made.
  bool Start(std::string& error);
  /// Reads until `stop` is set (a signal) or a delivery fails; then commits what is
  /// delivered and leaves the group. False, with the reason, on a failure (a delivery,
  /// a commit, a fatal consumer error). `on_tick`, when given, is called about every
  /// 100 ms (logs, metrics).
  bool Run(const volatile sig_atomic_t& stop, const std::function<void(const KafkaStats&)>& on_tick,
           std::string& error);
  /// `state_bytes`: also walk every patient for the state's size (not too often).
  const KafkaStats& stats(bool state_bytes = false);
  /// Swaps in the rules of `module` (with their native code, or none) in every partition
  /// held, between two messages (FileHost::Reload), and for partitions assigned later;
  /// `identity` is the new rules' (EngineIdentity). The next commit writes every
  /// partition's state. False, with the reason, when the state cannot be carried over:
  /// the running rules go on.
  bool Reload(const ir::Module& module, const std::vector<std::vector<NativeBlock>>& native,
              const std::string& identity, std::string& error);
  /// What the last Reload did (the first partition's engine: every partition's is the
  /// same); empty lists when no partition is held.
  Engine::ReloadSummary reload_summary() const;
  /// Log lines the host wants written (assignments, revocations), taken by the caller.
  std::vector<std::string> TakeLog() { return std::exchange(log_, {}); }
  /// Event-to-alert latencies (seconds) since the last call: for each message that made
  /// alerts, from its arrival (the poll's return) to the hand-over of those alerts to the
  /// producer (delivery is asynchronous). For the admin endpoint's histogram.
  std::vector<double> TakeLatencies() { return std::exchange(latencies_, {}); }

 private:
  struct Partition {
    std::unique_ptr<FileHost> host;
    int64_t next = -1;          // the offset after the last message processed (-1: none yet)
    int64_t replay_until = -1;  // the committed offset when assigned: messages before it replay silently
    int64_t committed = -1;     // the offset last committed
    int64_t snapshot = -1;      // the offset of its last state snapshot
    int64_t last_message_ms = 0;  // steady clock: when its last message was read
  };
  static void OnRebalance(rd_kafka_t* rk, int err, void* partitions, void* opaque);
  void Assign(void* partitions);
  void Revoke(void* partitions);
  /// Flushes the producer, writes state snapshots when due (`snapshot_now`: of every
  /// partition), then commits every partition's processed offset. False on a failure.
  bool Commit(std::string& error, bool snapshot_now = false);

  const ir::Module* module_;  // the rules running (a reload swaps them)
  bool snapshot_due_ = false;  // after a reload: the next commit writes every partition's state
  bool commit_refused_ = false;  // the last commit was refused while the group rebalanced
  EngineOptions options_;
  KafkaSink& sink_;
  KafkaProducer& producer_;
  KafkaSourceOptions source_;
  rd_kafka_t* consumer_ = nullptr;
  std::unique_ptr<KafkaStateStore> state_;
  int64_t last_snapshot_ms_ = 0;
  std::map<int32_t, Partition> partitions_;
  KafkaStats stats_;
  HostStats retired_;  // of the partitions held before and revoked
  std::string failure_;  // a failure inside a rebalance callback
  std::vector<std::string> log_;
  std::vector<double> latencies_;
};

}  // namespace cdr::runtime
