// runtime/kafka_host.cpp: the consumer-group loop of the Kafka host.
#include "runtime/kafka_host.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

namespace cdr::runtime {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Add(HostStats& to, const HostStats& s) {
  to.read += s.read;
  to.used += s.used;
  to.dead_lettered += s.dead_lettered;
  to.late += s.late;
  to.blank += s.blank;
  to.patients += s.patients;
  to.fired += s.fired;
  to.retracted += s.retracted;
  to.superseded += s.superseded;
  to.held += s.held;
  to.quarantined += s.quarantined;
  to.implausible_kept += s.implausible_kept;
}

}  // namespace

KafkaHost::KafkaHost(const ir::Module& module, const EngineOptions& options, KafkaSink& sink,
                     KafkaProducer& producer, KafkaSourceOptions source)
    : module_(&module), options_(options), sink_(sink), producer_(producer), source_(std::move(source)) {}

KafkaHost::~KafkaHost() {
  if (consumer_) {
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }
}

bool KafkaHost::Start(std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = KafkaConf({{"bootstrap.servers", source_.brokers},
                                     {"group.id", source_.group},
                                     {"enable.auto.commit", "false"},  // committed only once the output is delivered
                                     {"enable.auto.offset.store", "false"},
                                     {"auto.offset.reset", "earliest"},
                                     {"enable.partition.eof", "false"},
                                     {"isolation.level", "read_committed"}},
                                    source_.config, "consumer", error);
  if (!conf) return false;
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, [](rd_kafka_t* rk, rd_kafka_resp_err_t e,
                                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
    OnRebalance(rk, static_cast<int>(e), parts, opaque);
  });
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!consumer_) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot make a Kafka consumer: ") + err;
    return false;
  }
  rd_kafka_poll_set_consumer(consumer_);
  if (!source_.state_topic.empty()) {
    state_ = std::make_unique<KafkaStateStore>(producer_, source_.brokers, source_.config, source_.state_topic,
                                               source_.topic);
  }
  last_snapshot_ms_ = NowMs();
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, source_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) {
    error = "cannot subscribe to Kafka topic " + source_.topic + ": " + rd_kafka_err2str(e);
    return false;
  }
  return true;
}

void KafkaHost::OnRebalance(rd_kafka_t* rk, int err, void* partitions, void* opaque) {
  auto* self = static_cast<KafkaHost*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->Assign(partitions);
  } else {
    self->Revoke(partitions);
    rd_kafka_assign(rk, nullptr);
  }
}

void KafkaHost::Assign(void* list) {
  auto* parts = static_cast<rd_kafka_topic_partition_list_t*>(list);
  // Where the group got to: each partition is replayed from its beginning to rebuild its
  // state, its output muted up to there.
  rd_kafka_resp_err_t e = rd_kafka_committed(consumer_, parts, 10000);
  if (e && failure_.empty()) {
    failure_ = std::string("cannot read the group's committed offsets: ") + rd_kafka_err2str(e);
  }
  // The partitions' latest state snapshots: a partition restored from one continues at
  // its offset; others are replayed from their beginning.
  std::map<int32_t, PartitionSnapshot> snapshots;
  if (state_) {
    std::vector<std::string> notes;
    std::string why;
    if (!state_->Load(snapshots, notes, why)) notes.push_back(why + ": every partition is replayed from its beginning");
    for (std::string& note : notes) log_.push_back(std::move(note));
  }
  auto fresh_host = [&] {
    auto host = std::make_unique<FileHost>(*module_, HostOutputs{&sink_, {}, {}, {}}, options_);
    host->KeepState();
    std::string unknown;  // the name was checked when the source was configured
    host->SetFormat(MakeInputFormat(source_.format, source_.format_options, unknown));
    return host;
  };
  std::string text;
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = parts->elems[i];
    Partition& p = partitions_[tp.partition];
    p = Partition{};
    p.host = fresh_host();
    p.replay_until = tp.err == 0 && tp.offset >= 0 ? tp.offset : -1;
    p.committed = p.replay_until;
    std::string what = source_.topic + "[" + std::to_string(tp.partition) + "]";
    tp.offset = RD_KAFKA_OFFSET_BEGINNING;
    auto s = snapshots.find(tp.partition);
    if (s != snapshots.end() && s->second.identity != source_.identity) {
      log_.push_back("the state snapshot of " + what + " was written with other rules or options: replayed instead");
    } else if (s != snapshots.end()) {
      CheckpointReader in(s->second.body);
      if (p.host->Restore(in)) {
        tp.offset = s->second.offset;
        p.next = p.snapshot = s->second.offset;
        p.last_message_ms = NowMs();
        ++stats_.restored;
        what += " (state restored at offset " + std::to_string(s->second.offset) + ")";
      } else {
        p.host = fresh_host();
        log_.push_back("the state snapshot of " + what + " does not fit these rules: replayed instead");
      }
    }
    if (p.replay_until > std::max<int64_t>(p.next, 0)) what += " (replaying to offset " + std::to_string(p.replay_until) + ")";
    text += (text.empty() ? "" : ", ") + what;
  }
  ++stats_.assignments;
  log_.push_back("partitions assigned: " + (text.empty() ? std::string("none") : text));
  rd_kafka_assign(consumer_, parts);
}

void KafkaHost::Revoke(void* list) {
  auto* parts = static_cast<rd_kafka_topic_partition_list_t*>(list);
  std::string error;
  if (!Commit(error, /*snapshot_now=*/true) && failure_.empty()) failure_ = error;  // the state moves on with them
  std::string text;
  for (int i = 0; i < (parts ? parts->cnt : 0); ++i) {
    int32_t partition = parts->elems[i].partition;
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) continue;
    Add(retired_, it->second.host->stats());
    partitions_.erase(it);
    text += (text.empty() ? "" : ", ") + source_.topic + "[" + std::to_string(partition) + "]";
  }
  ++stats_.revocations;
  log_.push_back("partitions revoked: " + (text.empty() ? std::string("none") : text));
}

namespace {
// A commit refused while the group rebalances or its coordinator moves: the next commit
// (or the partition's next owner) makes up for it.
bool CommitMayWait(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
      return true;
    default:
      return false;
  }
}
}  // namespace

bool KafkaHost::Commit(std::string& error, bool snapshot_now) {
  if (!consumer_) return true;
  // Everything produced so far (the output of every message processed) must be delivered
  // before the offsets that say those messages are done.
  if (!producer_.Flush(30000)) {
    error = producer_.error();
    return false;
  }
  // State snapshots (delivered) before the offsets: a restart restores at most to them.
  if (state_ && (snapshot_now || snapshot_due_ || NowMs() - last_snapshot_ms_ >= source_.state_every_ms)) {
    snapshot_due_ = false;
    for (auto& [partition, p] : partitions_) {
      if (p.next < 0 || p.next == p.snapshot) continue;
      if (!state_->Write(partition, *p.host, p.next, source_.identity, error)) return false;
      p.snapshot = p.next;
      ++stats_.snapshots;
      if (source_.log_commits) {
        log_.push_back("state of " + source_.topic + "[" + std::to_string(partition) + "] at offset " +
                       std::to_string(p.next) + " written to " + source_.state_topic + " (" +
                       std::to_string(state_->last_bytes()) + " bytes)");
      }
    }
    last_snapshot_ms_ = NowMs();
  }
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size()));
  int n = 0;
  for (auto& [partition, p] : partitions_) {
    if (p.next < 0 || p.next <= p.committed) continue;
    rd_kafka_topic_partition_list_add(offsets, source_.topic.c_str(), partition)->offset = p.next;
    ++n;
  }
  rd_kafka_resp_err_t e = n ? rd_kafka_commit(consumer_, offsets, /*async=*/0) : RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_topic_partition_list_destroy(offsets);
  if (e && CommitMayWait(e)) {
    // The group is rebalancing (or its coordinator moving): the commit is dropped, not the
    // process. Whoever holds a partition next restores its snapshot or replays from the
    // last commit, and what it produces again carries the same alert ids.
    ++stats_.commits_skipped;
    if (!commit_refused_) {  // said once per run of refusals
      log_.push_back(std::string("offsets not committed (tried again at each commit): ") + rd_kafka_err2str(e));
    }
    commit_refused_ = true;
    return true;
  }
  if (e) {
    error = std::string("cannot commit offsets to Kafka: ") + rd_kafka_err2str(e);
    return false;
  }
  if (n) {
    commit_refused_ = false;
    ++stats_.commits;
    std::string text;
    int64_t total = 0;
    for (auto& [partition, p] : partitions_) {
      p.committed = std::max(p.committed, p.next);
      total += std::max<int64_t>(p.committed, 0);
      text += " " + source_.topic + "[" + std::to_string(partition) + "]=" + std::to_string(p.committed);
    }
    if (source_.log_commits) log_.push_back("committed offsets:" + text + " (total " + std::to_string(total) + ")");
  }
  return true;
}

bool KafkaHost::Run(const volatile sig_atomic_t& stop, const std::function<void(const KafkaStats&)>& on_tick,
                    std::string& error) {
  int64_t last_commit = NowMs(), last_tick = 0;
  while (!stop) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
    // One clock read per message: its arrival, for the latency, the partition's activity,
    // and the commit and tick schedule.
    const auto arrived = std::chrono::steady_clock::now();
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(arrived.time_since_epoch()).count();
    producer_.Poll();
    if (!failure_.empty()) break;
    if (m) {
      if (m->err) {
        std::string why = rd_kafka_message_errstr(m);
        bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                     m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        rd_kafka_message_destroy(m);
        if (fatal) {
          failure_ = "Kafka: " + why;
          break;
        }
        log_.push_back("Kafka: " + why);  // transient: librdkafka retries
      } else {
        auto it = partitions_.find(m->partition);
        if (it != partitions_.end()) {
          Partition& p = it->second;
          const bool replay = m->offset < p.replay_until;
          sink_.SetPosition(m->partition, m->offset, replay);
          ++stats_.messages;
          stats_.replayed += replay;
          std::string_view text(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
          std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
          Line line{text, text.size(), text.size()};
          const uint64_t alerts_before = sink_.alerts();
          p.host->Feed(line, static_cast<uint64_t>(m->offset), key);
          if (sink_.alerts() != alerts_before && latencies_.size() < 100000) {
            latencies_.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count());
          }
          p.next = m->offset + 1;
          p.last_message_ms = now;
        }
        rd_kafka_message_destroy(m);
        if (!producer_.error().empty()) {
          failure_ = producer_.error();
          break;
        }
      }
    }
    if (now - last_commit >= source_.commit_every_ms) {
      if (!Commit(failure_)) break;
      last_commit = now;
    }
    if (on_tick && now - last_tick >= 100) {
      last_tick = now;
      on_tick(stats());
    }
  }
  // Stopping: what was processed is delivered and committed, then the group is left.
  if (failure_.empty()) Commit(failure_);
  if (consumer_) {
    rd_kafka_consumer_close(consumer_);  // revokes (the callback commits again: nothing new)
    rd_kafka_destroy(consumer_);
    consumer_ = nullptr;
  }
  error = failure_;
  return failure_.empty();
}

bool KafkaHost::Reload(const ir::Module& module, const std::vector<std::vector<NativeBlock>>& native,
                       const std::string& identity, std::string& error) {
  // Whether a state can be carried over depends on the two rule sets only (a signal whose
  // type or unit changed): the first partition refuses for all, before any has swapped.
  bool first = true;
  for (auto& [partition, p] : partitions_) {
    if (!p.host->Reload(module, native, error)) {
      if (!first) failure_ = "partition " + std::to_string(partition) + " refused a reload the others took: " + error;
      return false;
    }
    first = false;
  }
  module_ = &module;
  options_.native = native;  // for partitions assigned from now on
  options_.take_native = nullptr;
  source_.identity = identity;
  // The snapshots of the rules before would not be used by a restart: every partition's
  // state is written again at the next commit, even one that has read nothing since.
  for (auto& [_, p] : partitions_) p.snapshot = -1;
  snapshot_due_ = true;
  return true;
}

Engine::ReloadSummary KafkaHost::reload_summary() const {
  if (partitions_.empty()) return {};
  return partitions_.begin()->second.host->engine().reload_summary();
}

const KafkaStats& KafkaHost::stats(bool state_bytes) {
  stats_.hosts = retired_;
  stats_.partitions = partitions_.size();
  stats_.fired_by.assign(module_->rules.size() * Counters::kSeverities, 0);
  stats_.retracted_by.assign(module_->rules.size() * Counters::kSeverities, 0);
  stats_.stream_time = stats_.watermark = INT64_MIN;
  if (state_bytes) stats_.state_bytes = 0;
  const int64_t now = NowMs();
  auto active = [&](const Partition& p) { return now - p.last_message_ms <= source_.idle_timeout_ms; };
  bool any_active = false;
  for (auto& [_, p] : partitions_) any_active = any_active || active(p);
  bool first = true;
  for (auto& [_, p] : partitions_) {
    Add(stats_.hosts, p.host->stats());
    const Engine& engine = p.host->engine();
    const Counters& c = engine.counters();
    for (size_t i = 0; i < stats_.fired_by.size() && i < c.fired_by.size(); ++i) {
      stats_.fired_by[i] += c.fired_by[i];
      stats_.retracted_by[i] += c.retracted_by[i];
    }
    if (state_bytes) stats_.state_bytes += engine.StateBytes();
    if (any_active && !active(p)) continue;  // idle: it holds nothing back
    stats_.stream_time = first ? engine.stream_time() : std::min(stats_.stream_time, engine.stream_time());
    stats_.watermark = first ? engine.watermark() : std::min(stats_.watermark, engine.watermark());
    first = false;
  }
  return stats_;
}

}  // namespace cdr::runtime
