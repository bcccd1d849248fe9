// runtime/kafka_state.h: partition state snapshots in a Kafka topic (like Kafka Streams'
// changelog, but of whole snapshots): a partition's host state (runtime/checkpoint.h
// body) is written in chunks of at most 512 KiB keyed `TOPIC/P/ID/N`, then a manifest
// keyed `TOPIC/P` (snapshot id, the input offset it continues from, the chunk count, the
// SHA-256 of the whole, the identity of the rules and options); the previous snapshot's
// chunks are then deleted with tombstones, so a compacted topic keeps one snapshot per
// partition. Each step is delivered before the next: a manifest never names a chunk
// that is not in the topic.
// Chunks that no manifest in use names (a snapshot cut short by a crash) are found when
// the topic is read and deleted with the partition's next snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/file_host.h"
#include "runtime/kafka_sink.h"

namespace cdr::runtime {

/// A partition's latest snapshot, as read back.
struct PartitionSnapshot {
  std::string id;
  int64_t offset = 0;  // the input offset the state continues from
  std::string identity;
  std::string body;  // FileHost::Save's bytes
  std::vector<std::string> chunk_keys;
};

class KafkaStateStore {
 public:
  KafkaStateStore(KafkaProducer& producer, std::string brokers, std::vector<std::pair<std::string, std::string>> config,
                  std::string state_topic, std::string input_topic)
      : producer_(producer),
        brokers_(std::move(brokers)),
        config_(std::move(config)),
        state_topic_(std::move(state_topic)),
        input_topic_(std::move(input_topic)) {}
  /// Writes a snapshot of `host` (between two messages; the input continues at `offset`)
  /// for `partition`. False, with the reason, when a step is not delivered.
  bool Write(int32_t partition, const FileHost& host, int64_t offset, const std::string& identity, std::string& error);
  /// Reads the state topic to its end: the latest complete snapshot of each partition of
  /// the input topic (a manifest whose chunks are missing or whose checksum does not
  /// match is left out, with a note). False, with the reason, when it cannot be read.
  bool Load(std::map<int32_t, PartitionSnapshot>& out, std::vector<std::string>& notes, std::string& error);
  /// Bytes written in the last snapshot of a partition.
  uint64_t last_bytes() const { return last_bytes_; }
  static constexpr size_t kChunk = 512 << 10;

 private:
  KafkaProducer& producer_;
  std::string brokers_;
  std::vector<std::pair<std::string, std::string>> config_;
  std::string state_topic_, input_topic_;
  std::map<int32_t, std::vector<std::string>> live_chunks_;  // per partition: the chunks of its snapshot now
  uint64_t sequence_ = 0;
  uint64_t last_bytes_ = 0;
};

}  // namespace cdr::runtime
