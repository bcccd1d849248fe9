// tests/tools/kafka_mock.cpp: a Kafka cluster for the tests, on loopback: librdkafka's mock
// cluster (rdkafka_mock.h; it serves the Kafka protocol: produce, fetch, consumer groups
// with committed offsets). Creates the topics named (TOPIC or TOPIC:PARTITIONS), prints
// the bootstrap address on one line, and runs until its stdin closes or a signal. A line
// `produce-errors N` on stdin makes the next N produce requests fail for good
// (TOPIC_AUTHORIZATION_FAILED), as a broker refusing writes would.
// Usage: cdr_kafka_mock TOPIC[:PARTITIONS]...
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // errors only: the tests read its stdout
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "cdr_kafka_mock: %s\n", err);
    return 2;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, 1);
  if (!cluster) {
    std::fprintf(stderr, "cdr_kafka_mock: cannot start the mock cluster\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    int partitions = 1;
    if (auto colon = arg.rfind(':'); colon != std::string::npos) {
      partitions = std::atoi(arg.c_str() + colon + 1);
      arg.resize(colon);
    }
    if (partitions < 1 || rd_kafka_mock_topic_create(cluster, arg.c_str(), partitions, 1)) {
      std::fprintf(stderr, "cdr_kafka_mock: cannot create topic %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  std::signal(SIGTERM, [](int) {});  // ends the read below (EINTR) rather than the process
  std::string pending;
  char buf[256];
  for (ssize_t n; (n = read(STDIN_FILENO, buf, sizeof buf)) > 0;) {
    pending.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      int count = 0;
      if (std::sscanf(pending.c_str(), "produce-errors %d", &count) == 1 && count > 0) {
        std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(count),
                                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        rd_kafka_mock_push_request_errors_array(cluster, /*Produce*/ 0, errors.size(), errors.data());
      }
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
