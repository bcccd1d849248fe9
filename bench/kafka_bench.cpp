// bench/kafka_bench.cpp: what `cdr serve` does through Kafka (bench/kafka.sh drives it).
//
//   kafka_bench throughput BOOTSTRAP GROUP TOPIC PARTITIONS TOTAL
//     Watches the group's committed offsets on TOPIC (without joining the group) until
//     they sum to TOTAL; prints the events per second between the first commit seen and
//     the last (the group's start and join are left out).
//   kafka_bench latency BOOTSTRAP TOPIC ALERTS_TOPIC EVENTS_FILE RATE
//     Produces the events of EVENTS_FILE (NDJSON, keyed by patient) at RATE events per
//     second while consuming ALERTS_TOPIC; for each alert fired, the time from the
//     production of the last event of its point (patient and time) to the alert's
//     arrival at this consumer: through the broker both ways and through serve. Prints
//     the percentiles, leaving out the events of the first 2 seconds (warm-up).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "runtime/kafka_sink.h"

namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

rd_kafka_t* Client(rd_kafka_type_t type, const std::string& bootstrap, const std::string& group) {
  std::vector<std::pair<std::string, std::string>> settings = {{"bootstrap.servers", bootstrap}, {"log_level", "3"}};
  if (!group.empty()) settings.emplace_back("group.id", group);
  if (type == RD_KAFKA_PRODUCER) {
    settings.emplace_back("linger.ms", "1");
  } else {
    settings.emplace_back("enable.auto.commit", "false");
    settings.emplace_back("auto.offset.reset", "earliest");
    // The mock answers a fetch that finds nothing only after this wait (it is not woken by
    // new data, as a broker is): short, as a consumer that wants low latency sets it.
    settings.emplace_back("fetch.wait.max.ms", "10");
  }
  std::string error;
  rd_kafka_conf_t* conf = cdr::runtime::KafkaConf(settings, {}, "bench client", error);
  if (!conf) {
    std::fprintf(stderr, "kafka_bench: %s\n", error.c_str());
    std::exit(2);
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "kafka_bench: %s\n", err);
    std::exit(2);
  }
  return rk;
}

// A JSON string field's text (the generator's and serve's lines have no escapes in these).
std::string Field(const std::string& line, const std::string& name) {
  std::string key = "\"" + name + "\":\"";
  size_t at = line.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  return line.substr(at, line.find('"', at) - at);
}

int Throughput(const std::string& bootstrap, const std::string& group, const std::string& topic, int partitions,
               int64_t total) {
  rd_kafka_t* rk = Client(RD_KAFKA_CONSUMER, bootstrap, group);  // never subscribes: no member
  double first = 0, last = 0;
  int64_t first_sum = 0, sum = 0;
  const double deadline = Now() + 600;
  while (sum < total && Now() < deadline) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
    if (rd_kafka_committed(rk, parts, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      int64_t s = 0;
      for (int i = 0; i < parts->cnt; ++i) s += std::max<int64_t>(parts->elems[i].offset, 0);
      if (s > 0 && first == 0) {
        first = Now();
        first_sum = s;
      }
      if (s > sum) last = Now();
      sum = std::max(sum, s);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  rd_kafka_destroy(rk);
  if (sum < total || last <= first) {
    std::fprintf(stderr, "kafka_bench: the group committed %lld of %lld\n", static_cast<long long>(sum),
                 static_cast<long long>(total));
    return 1;
  }
  std::printf("committed %lld events; %lld of them in %.3f s after the first commit: %.0f events/s\n",
              static_cast<long long>(sum), static_cast<long long>(sum - first_sum), last - first,
              static_cast<double>(sum - first_sum) / (last - first));
  return 0;
}

int Latency(const std::string& bootstrap, const std::string& topic, const std::string& alerts_topic,
            const std::string& events_file, double rate) {
  std::ifstream in(events_file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  rd_kafka_t* consumer = Client(RD_KAFKA_CONSUMER, bootstrap, "kafka-bench-latency");
  rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, alerts_topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  // The consumer has joined (its first poll returns) before the first event goes out.
  for (int i = 0; i < 50; ++i) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100)) rd_kafka_message_destroy(m);
  }
  std::map<std::pair<std::string, std::string>, double> produced;  // (patient, time) -> last event's production
  std::vector<double> latencies;
  // The first seconds warm the pipeline up (the member's first fetches, the JIT's first
  // compilation): alerts of events produced then are not counted.
  constexpr double kWarmup = 2;
  double start = Now();
  auto poll_alerts = [&](int timeout_ms) {
    while (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, timeout_ms)) {
      const double now = Now();
      if (!m->err && m->payload) {
        std::string line(static_cast<const char*>(m->payload), m->len);
        auto it = produced.find({Field(line, "patient"), Field(line, "time")});
        if (Field(line, "action") == "fire" && it != produced.end() && it->second >= start + kWarmup) {
          latencies.push_back(now - it->second);
        }
      }
      rd_kafka_message_destroy(m);
      timeout_ms = 0;
    }
  };
  rd_kafka_t* producer = Client(RD_KAFKA_PRODUCER, bootstrap, "");
  start = Now();
  for (size_t i = 0; i < lines.size(); ++i) {
    const double due = start + static_cast<double>(i) / rate;
    while (Now() < due) {
      poll_alerts(0);
      rd_kafka_poll(producer, 0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const std::string& line = lines[i];
    const std::string patient = Field(line, "patient");
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_KEY(patient.data(), patient.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 10);
    }
    produced[{patient, Field(line, "time")}] = Now();
  }
  const double sent = Now() - start;
  rd_kafka_flush(producer, 30000);
  for (double quiet = Now(); Now() - quiet < 3;) {
    size_t before = latencies.size();
    poll_alerts(100);
    if (latencies.size() != before) quiet = Now();
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  if (latencies.empty()) {
    std::fprintf(stderr, "kafka_bench: no alert came back\n");
    return 1;
  }
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<size_t>(q * latencies.size()))]; };
  std::printf("%zu events in %.2f s (%.0f events/s); %zu alerts after the warm-up: latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
              lines.size(), sent, static_cast<double>(lines.size()) / sent, latencies.size(), at(0.5) * 1e3,
              at(0.99) * 1e3, at(0.999) * 1e3, latencies.back() * 1e3);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "throughput" && argc == 7) return Throughput(argv[2], argv[3], argv[4], std::atoi(argv[5]), std::atoll(argv[6]));
  if (mode == "latency" && argc == 7) return Latency(argv[2], argv[3], argv[4], argv[5], std::atof(argv[6]));
  std::fprintf(stderr,
               "usage: kafka_bench throughput BOOTSTRAP GROUP TOPIC PARTITIONS TOTAL\n"
               "       kafka_bench latency BOOTSTRAP TOPIC ALERTS_TOPIC EVENTS_FILE RATE\n");
  return 2;
}
