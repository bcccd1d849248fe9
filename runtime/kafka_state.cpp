// runtime/kafka_state.cpp: partition state snapshots written to and read from a topic.
#include "runtime/kafka_state.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <sstream>

#include "runtime/checkpoint.h"
#include "stdlib/hash.h"

namespace cdr::runtime {

namespace {

// `TOPIC/P`: a partition's manifest.
std::string ManifestKey(const std::string& topic, int32_t partition) { return topic + "/" + std::to_string(partition); }

// The value of `name: value` in a manifest, empty when absent.
std::string Field(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ": ", 0) == 0) return line.substr(name.size() + 2);
  }
  return {};
}

}  // namespace

bool KafkaStateStore::Write(int32_t partition, const FileHost& host, int64_t offset, const std::string& identity,
                            std::string& error) {
  const std::string id = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()) +
                         "-" + std::to_string(++sequence_);
  const std::string prefix = ManifestKey(input_topic_, partition) + "/" + id + "/";
  std::vector<std::string> keys;
  stdlib::Sha256 sum;
  uint64_t bytes = 0;
  CheckpointWriter body;
  body.SetDrain([&](std::string_view block) {
    for (size_t at = 0; at < block.size(); at += kChunk) {
      std::string_view chunk = block.substr(at, kChunk);
      keys.push_back(prefix + std::to_string(keys.size()));
      sum.Update(chunk);
      bytes += chunk.size();
      if (!producer_.Produce(state_topic_, keys.back(), chunk)) return false;
    }
    return true;
  });
  host.Save(body);
  body.Drain();
  // The chunks first, delivered; then the manifest that names them.
  if (body.failed() || !producer_.Flush(60000)) {
    error = "cannot write the state of " + input_topic_ + "[" + std::to_string(partition) + "] to " + state_topic_ +
            ": " + producer_.error();
    return false;
  }
  std::string manifest = "cdr partition state 1\nsnapshot: " + id + "\noffset: " + std::to_string(offset) +
                         "\nchunks: " + std::to_string(keys.size()) + "\nbytes: " + std::to_string(bytes) +
                         "\nsha256: " + sum.HexDigest() + "\n" + identity;
  if (!producer_.Produce(state_topic_, ManifestKey(input_topic_, partition), manifest) || !producer_.Flush(60000)) {
    error = "cannot write the state manifest of " + input_topic_ + "[" + std::to_string(partition) + "] to " +
            state_topic_ + ": " + producer_.error();
    return false;
  }
  // The previous snapshot's chunks are no longer named: deleted (a compacted topic drops them).
  for (const std::string& key : live_chunks_[partition]) producer_.ProduceTombstone(state_topic_, key);
  live_chunks_[partition] = std::move(keys);
  last_bytes_ = bytes;
  return true;
}

bool KafkaStateStore::Load(std::map<int32_t, PartitionSnapshot>& out, std::vector<std::string>& notes,
                           std::string& error) {
  char err[512];
  // A group id gives the consumer its queue; it never joins the group (assign, not
  // subscribe) and commits nothing.
  rd_kafka_conf_t* conf = KafkaConf({{"bootstrap.servers", brokers_},
                                     {"group.id", state_topic_ + ".reader"},
                                     {"enable.partition.eof", "true"},
                                     {"enable.auto.commit", "false"},
                                     {"isolation.level", "read_committed"}},
                                    config_, "state reader", error);
  if (!conf) return false;
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot make a Kafka consumer for the state topic: ") + err;
    return false;
  }
  // The state topic's partitions and where each ends now.
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, state_topic_.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, topic, &md, 10000);
  std::map<std::string, std::string> live;  // key -> latest value (tombstones erase)
  bool ok = true;
  if (e) {
    error = "cannot read the metadata of the state topic " + state_topic_ + ": " + rd_kafka_err2str(e);
    ok = false;
  } else if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    int open = 0;
    std::map<int32_t, int64_t> end;
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      int32_t p = md->topics[0].partitions[i].id;
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, state_topic_.c_str(), p, &lo, &hi, 10000) != 0) continue;
      if (hi <= lo) continue;
      end[p] = hi;
      rd_kafka_topic_partition_list_add(parts, state_topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      ++open;
    }
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (end.erase(m->partition)) --open;
      } else if (!m->err) {
        std::string key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
        if (m->payload) {
          live[key].assign(static_cast<const char*>(m->payload), m->len);
        } else {
          live.erase(key);
        }
        if (end.count(m->partition) && m->offset + 1 >= end[m->partition]) {
          end.erase(m->partition);
          --open;
        }
      }
      rd_kafka_message_destroy(m);
    }
    if (open > 0) {
      error = "the state topic " + state_topic_ + " was not read to its end within 2 minutes";
      ok = false;
    }
    rd_kafka_assign(rk, nullptr);
  }
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(topic);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (!ok) return false;
  const std::string prefix = input_topic_ + "/";
  live_chunks_.clear();  // the topic, read to its end, says which chunks are there
  for (const auto& [key, manifest] : live) {
    if (key.rfind(prefix, 0) != 0 || key.find('/', prefix.size()) != std::string::npos) continue;
    int32_t partition = std::atoi(key.c_str() + prefix.size());
    PartitionSnapshot s;
    s.id = Field(manifest, "snapshot");
    s.offset = std::atoll(Field(manifest, "offset").c_str());
    size_t chunks = std::strtoull(Field(manifest, "chunks").c_str(), nullptr, 10);
    auto at = manifest.find('\n', manifest.find("\nsha256: ") + 1);
    s.identity = at == std::string::npos ? "" : manifest.substr(at + 1);
    stdlib::Sha256 sum;
    bool complete = !s.id.empty();
    for (size_t i = 0; complete && i < chunks; ++i) {
      std::string chunk_key = key + "/" + s.id + "/" + std::to_string(i);
      auto it = live.find(chunk_key);
      if (it == live.end()) {
        complete = false;
        break;
      }
      s.body += it->second;
      sum.Update(it->second);
      s.chunk_keys.push_back(chunk_key);
    }
    if (!complete || sum.HexDigest() != Field(manifest, "sha256")) {
      notes.push_back("the state snapshot of " + input_topic_ + "[" + std::to_string(partition) + "] in " +
                      state_topic_ + " is incomplete or corrupt: the partition is replayed from its beginning");
      continue;
    }
    live_chunks_[partition] = s.chunk_keys;
    out[partition] = std::move(s);
  }
  // Chunks no manifest names (a snapshot cut short by a crash, or not used above) are
  // deleted with the partition's next snapshot, as its previous chunks are.
  std::map<int32_t, size_t> orphans;
  for (const auto& [key, value] : live) {
    if (key.rfind(prefix, 0) != 0) continue;
    size_t slash = key.find('/', prefix.size());
    if (slash == std::string::npos) continue;  // a manifest
    int32_t partition = std::atoi(key.c_str() + prefix.size());
    size_t id_end = key.find('/', slash + 1);
    auto s = out.find(partition);
    if (s != out.end() && id_end != std::string::npos && key.compare(slash + 1, id_end - slash - 1, s->second.id) == 0) {
      continue;  // a chunk of the snapshot in use
    }
    live_chunks_[partition].push_back(key);
    ++orphans[partition];
  }
  for (const auto& [partition, n] : orphans) {
    notes.push_back(std::to_string(n) + " chunks of " + input_topic_ + "[" + std::to_string(partition) + "] in " +
                    state_topic_ + " belong to no snapshot in use: deleted with the partition's next snapshot");
  }
  return true;
}

}  // namespace cdr::runtime
