// bench/latency_bench.cpp: event-to-alert latency of the serve pipeline, as a live feed
// sees it. A producer thread writes event lines into a pipe at a fixed pace; the host
// reads the pipe as `cdr serve --source stdin` does (FdSource, whole lines), with the
// shipped rules on the JIT, and writes alerts to a file with `--flush alert` (one write(2)
// after each event that made alerts). The latency of an event is from the moment its line
// is read to the return of the write of the alerts it made, measured for every such event.
// First the maximum rate (the producer unpaced), then 10%, 50% and 90% of it; for each,
// p50, p99, p99.9 and the largest; for both emission policies.
// Usage: cdr_latency_bench EVENTS.ndjson [SECONDS_PER_LOAD]   (bench/latency.sh makes the events)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "runtime/output_file.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double seconds = 0;
  size_t events = 0;
  std::vector<double> latencies;  // seconds, of the events that made alerts
};

// Writes lines[0, n) into `fd` at `rate` lines/s (0: as fast as the pipe takes them).
void Produce(int fd, const std::vector<std::string>& lines, size_t n, double rate) {
  const auto start = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (rate > 0) {
      auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate));
      if (due - Clock::now() > std::chrono::microseconds(200)) std::this_thread::sleep_until(due - std::chrono::microseconds(100));
      while (Clock::now() < due) {
      }
    }
    const std::string& l = lines[i];
    size_t done = 0;
    while (done < l.size()) {
      ssize_t w = ::write(fd, l.data() + done, l.size() - done);
      if (w <= 0) return;
      done += static_cast<size_t>(w);
    }
  }
  ::close(fd);
}

Result RunOnce(const cdr::ir::Module& module, const std::vector<std::vector<cdr::runtime::NativeBlock>>& native,
               cdr::runtime::Emit emit, const std::vector<std::string>& lines, size_t n, double rate) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  std::string error;
  char path[] = "/tmp/cdr-latency-XXXXXX";
  int tmp = ::mkstemp(path);
  ::close(tmp);
  auto alerts = cdr::runtime::OutputFile::Open(path, 0600, error);
  ::unlink(path);
  cdr::runtime::EngineOptions options;
  options.emit = emit;
  options.native = native;
  Result r;
  r.latencies.reserve(n / 4);
  Clock::time_point line_start;
  cdr::runtime::FileHost* host = nullptr;
  uint64_t before = 0;
  cdr::runtime::JsonLinesSink sink({&alerts->stream()});
  cdr::runtime::HostOutputs out{&sink, {}, {}, {}};
  out.on_line = [&] { line_start = Clock::now(); };
  out.after_line = [&] {
    alerts->Flush();  // --flush alert: the alerts of this event, one write(2)
    const auto& c = host->engine().counters();
    if (c.fired + c.retracted != before) {
      before = c.fired + c.retracted;
      r.latencies.push_back(std::chrono::duration<double>(Clock::now() - line_start).count());
    }
    return true;
  };
  cdr::runtime::FileHost h(module, out, options);
  host = &h;
  std::thread producer(Produce, fds[1], std::cref(lines), n, rate);
  auto start = Clock::now();
  h.Run(cdr::runtime::FdSource(fds[0]));
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.events = n;
  producer.join();
  ::close(fds[0]);
  return r;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s EVENTS.ndjson [SECONDS_PER_LOAD]\n", argv[0]);
    return 2;
  }
  const double seconds_per_load = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::vector<std::string> lines;
  {
    std::ifstream in(argv[1], std::ios::binary);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line + "\n");
  }
  cdr::driver::Frontend fe;
  std::string error;
  fe.Compile({std::string(CDR_SOURCE_DIR) + "/rules"}, error);
  if (fe.diags.error_count() || lines.empty()) {
    std::fprintf(stderr, "latency_bench: the shipped rules do not compile, or no events in %s\n", argv[1]);
    return 1;
  }
  std::vector<std::vector<cdr::runtime::NativeBlock>> native;
  if (auto err = cdr::jit::CompileModule(fe.module, 2, native)) {
    std::fprintf(stderr, "latency_bench: %s\n", err->c_str());
    return 1;
  }
  std::printf("emit      load  events/s   events  alerting    p50 us    p99 us  p99.9 us    max us\n");
  for (auto emit : {cdr::runtime::Emit::Eager, cdr::runtime::Emit::Settled}) {
    const char* name = emit == cdr::runtime::Emit::Eager ? "eager" : "settled";
    // The maximum rate: the producer unpaced, over every line (the median of 3 runs).
    std::vector<double> rates;
    for (int i = 0; i < 3; ++i) {
      Result r = RunOnce(fe.module, native, emit, lines, lines.size(), 0);
      rates.push_back(static_cast<double>(r.events) / r.seconds);
    }
    std::sort(rates.begin(), rates.end());
    const double max_rate = rates[1];
    std::printf("%-8s  max  %8.0f  %7zu\n", name, max_rate, lines.size());
    for (double load : {0.1, 0.5, 0.9}) {
      const double rate = load * max_rate;
      const size_t n = std::min(lines.size(), static_cast<size_t>(rate * seconds_per_load));
      Result r = RunOnce(fe.module, native, emit, lines, n, rate);
      std::vector<double>& l = r.latencies;
      double p50 = Percentile(l, 0.5), p99 = Percentile(l, 0.99), p999 = Percentile(l, 0.999);
      double max = l.empty() ? 0 : *std::max_element(l.begin(), l.end());
      std::printf("%-8s  %3.0f%% %8.0f  %7zu  %8zu  %8.1f  %8.1f  %8.1f  %8.1f\n", name, load * 100, rate, n, l.size(),
                  p50 * 1e6, p99 * 1e6, p999 * 1e6, max * 1e6);
    }
  }
  return 0;
}
