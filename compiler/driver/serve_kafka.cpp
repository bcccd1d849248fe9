// compiler/driver/serve_kafka.cpp: `cdr serve --source kafka:BROKERS/TOPIC --group ID`:
// the rules over a Kafka topic as a member of a consumer group, alerts to topics
// (runtime/kafka_host.h, runtime/kafka_sink.h; docs/operations.md, "Kafka").
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "compiler/driver/admin.h"
#include "compiler/driver/backend.h"
#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/driver/reload.h"
#include "runtime/kafka_host.h"
#include "runtime/kafka_sink.h"

namespace cdr::driver {

int ServeKafka(const ServeOptions& so) {
  const std::string name = "cdr serve";
  const RunOptions& o = so.run;
  const KafkaServeOptions& k = so.kafka;
  auto usage = [&](const std::string& message) {
    std::cerr << name << ": " << message << "\n";
    return kUsage;
  };
  // kafka:BROKERS/TOPIC; BROKERS is librdkafka's list (host:port,host:port).
  const std::string spec = so.source.substr(6);
  const size_t slash = spec.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == spec.size()) {
    return usage("--source " + so.source + " is not kafka:BROKERS/TOPIC (such as kafka:127.0.0.1:9092/events)");
  }
  runtime::KafkaSourceOptions source;
  source.brokers = spec.substr(0, slash);
  source.topic = spec.substr(slash + 1);
  source.group = k.group;
  source.log_commits = o.progress;
  source.format = o.format;
  if (std::string error; !InputFormatOf(o, source.format_options, error)) return usage(error);
  if (k.group.empty()) return usage("--source kafka: needs --group ID (the consumer group this process joins)");
  // A Kafka source's outputs are topics: file outputs, checkpoints (offsets are committed
  // to the group) and the wall clock (a replay must make what the first run made) are not
  // for it.
  for (const auto& [flag, given] : std::vector<std::pair<std::string, bool>>{{"--out", !o.out.empty()},
                                                                             {"--trace", !o.trace.empty()},
                                                                             {"--dead-letter", !o.dead_letter.empty()},
                                                                             {"--late", !o.late.empty()},
                                                                             {"--checkpoint", !o.checkpoint.empty()}}) {
    if (given) {
      return usage(flag + " is for file sources: with --source kafka: outputs are topics (--alerts-topic, "
                          "--dead-letter-topic, --late-topic, --trace-topic) and progress is the group's committed offsets");
    }
  }
  if (so.clock != "event") {
    return usage("--clock wall is not available with --source kafka: a partition replayed after a restart must "
                 "decide what it decided before, and the wall clock does not repeat");
  }
  auto commit_every = ParseDurationMs(k.commit_every);
  if (!commit_every || *commit_every <= 0) return usage("--commit-every " + k.commit_every + " is not a duration such as 1s");
  source.commit_every_ms = *commit_every;
  std::vector<std::pair<std::string, std::string>> config;
  for (const std::string& kv : k.config) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return usage("--kafka-option " + kv + " is not KEY=VALUE");
    config.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  source.config = config;
  auto state_every = ParseDurationMs(k.state_every);
  if (!state_every || *state_every <= 0) return usage("--state-every " + k.state_every + " is not a duration such as 1min");
  source.state_every_ms = *state_every;
  auto idle_timeout = ParseDurationMs(k.idle_timeout);
  if (!idle_timeout) return usage("--idle-timeout " + k.idle_timeout + " is not a duration such as 1min");
  source.idle_timeout_ms = *idle_timeout;
  source.state_topic = k.state_topic.empty() ? source.group + ".state" : k.state_topic == "none" ? "" : k.state_topic;
  runtime::KafkaTopics topics;
  topics.alerts = k.alerts_topic.empty() ? source.topic + ".alerts" : k.alerts_topic;
  topics.dead_letter = k.dead_letter_topic.empty() ? source.topic + ".dead-letter" : k.dead_letter_topic;
  topics.late = k.late_topic.empty() ? source.topic + ".late" : k.late_topic;
  topics.trace = k.trace_topic;
  topics.shadow = o.shadow;  // a topic here
  std::string error;
  if (!k.routing.empty()) {
    std::ifstream in(k.routing);
    if (!in) return usage("cannot read the routing file " + k.routing);
    std::stringstream text;
    text << in.rdbuf();
    auto routing = runtime::AlertRouting::Parse(text.str(), k.routing, error);
    if (!routing) return usage(error);
    topics.routing = *routing;
  }
  auto engine_options = EngineOptionsOf(o, error);
  if (!engine_options) return usage(error);
  runtime::EngineOptions& options = *engine_options;

  Frontend fe;
  std::vector<std::unique_ptr<Frontend>> reloaded;  // every rule set swapped in outlives the host: engines refer to it
  if (int status = CompileOrReport(fe, o.rules, name.c_str()); status != kOk) return status;
  Deployment deployment;
  if (!deployment.Open(fe, o, name)) return kFailed;
  Backend backend;
  if (auto err = backend.Prepare(o.engine, o.opt, fe.module, options)) {
    std::cerr << name << ": the JIT cannot compile the rules: " << *err << "\n";
    return kFailed;
  }
  auto producer = runtime::KafkaProducer::Create(source.brokers, config, error);
  if (!producer) return usage(error);
  // What a partition's state snapshot depends on: the rules, the options, whether traced.
  auto identity_of = [&](const ir::Module& module) {
    return EngineIdentity(module, options) + FormatIdentity(o) + "trace: " + (topics.trace.empty() ? "off" : "on") + "\n";
  };
  source.identity = identity_of(fe.module);
  runtime::KafkaSink sink(*producer, topics);
  runtime::KafkaHost host(fe.module, options, sink, *producer, source);
  if (!host.Start(error)) return usage(error);
  // Hot reload (inotify on the rules, SIGHUP, POST /reload): a candidate built and tested
  // on the reloader's thread, swapped in between two messages (docs/operations.md).
  std::string running_fingerprint = ir::Fingerprint(fe.module);
  RuleReloader reloader(RuleReloader::Options{o.rules, o.engine != "interp", o.opt, 300, deployment.options()},
                        fe.module);
  if (!reloader.Watch(error)) std::cerr << name << ": " << error << "; reload on SIGHUP or POST /reload only\n";
  reloader.RequestOn(CatchReloadSignal());
  reloader.Start();
  std::unique_ptr<AdminServer> admin;
  Metrics metrics;
  metrics.module = &fe.module;
  const std::string started = NowText();
  for (const auto& rule : fe.module.rules) metrics.loaded_since[rule.id] = started;
  if (!so.admin.empty()) {
    admin = std::make_unique<AdminServer>(so.source, [&reloader] { reloader.Request("POST /reload"); });
    if (!admin->Start(so.admin, error)) return usage(error);
    std::cerr << fmt::format("{}: admin endpoint on http://{}\n", name, admin->address());
  }
  auto last_state_bytes = std::chrono::steady_clock::now() - std::chrono::hours(1);
  auto publish = [&](const runtime::KafkaStats& s) {
    if (!admin) return;
    metrics.stats = s.hosts;
    metrics.fired_by = s.fired_by;
    metrics.retracted_by = s.retracted_by;
    metrics.stream_time = s.stream_time;
    metrics.watermark = s.watermark;
    metrics.state_bytes = s.state_bytes;
    if (s.snapshots != metrics.checkpoints) {  // a state snapshot is this host's checkpoint
      metrics.checkpoints = s.snapshots;
      metrics.has_checkpoint = true;
      metrics.last_checkpoint = std::chrono::system_clock::now();
    }
    metrics.ready = s.partitions > 0;  // a member holding partitions
    admin->Publish(metrics);
  };
  std::cerr << fmt::format("{}: group {} reading {} from {}; alerts to {}{}\n", name, source.group, source.topic,
                           source.brokers, topics.alerts, topics.routing.routes.empty() ? "" : " and routed topics");
  volatile sig_atomic_t& stop = *CatchStopSignals();
  if (!deployment.Started("start")) return kFailed;
  bool audit_failed = false;  // a reload could not be recorded: the host stops
  const auto start = std::chrono::steady_clock::now();
  auto apply_reload = [&] {
    std::optional<RuleReloader::Result> r = reloader.Take();
    if (!r) return;
    if (r->candidate && ir::Fingerprint(r->candidate->module) == running_fingerprint) {
      r->candidate.reset();  // built before the worker knew of an earlier swap: the same rules
      r->unchanged = true;
    }
    std::string detail, why;
    const bool swapped =
        r->candidate && host.Reload(r->candidate->module, r->native, identity_of(r->candidate->module), why);
    if (!swapped && r->candidate) r->refusal = why;  // the swap itself refused (a schema change)
    if (!deployment.Reloaded(*r, swapped)) audit_failed = true;
    if (swapped) {
      running_fingerprint = ir::Fingerprint(r->candidate->module);
      const auto sum = host.reload_summary();
      detail = DescribeReload(sum);
      NoteSwap(sum, metrics);
      metrics.module = &r->candidate->module;
      reloader.Running(r->candidate->module);
      reloaded.push_back(std::move(r->candidate));
      ReportReload(name, r->reason, "done", detail, metrics);
    } else {
      ReportReload(name, r->reason, r->unchanged ? "unchanged" : "refused",
                   r->unchanged ? "the rules compile to those running" : r->refusal, metrics);
    }
  };
  auto log = [&](const runtime::KafkaStats&) {
    if (reloader.ready()) apply_reload();  // between two messages
    if (audit_failed) stop = SIGTERM;      // a deployment unrecorded does not go on
    for (const std::string& line : host.TakeLog()) std::cerr << name << ": " << line << "\n";
    for (double seconds : host.TakeLatencies()) metrics.latency.Observe(seconds);
    if (admin) {
      const auto now = std::chrono::steady_clock::now();
      const bool walk = now - last_state_bytes >= std::chrono::seconds(10);  // every patient: now and then
      if (walk) last_state_bytes = now;
      publish(host.stats(walk));
    }
  };
  bool ok = host.Run(stop, log, error);
  log(host.stats());
  const runtime::KafkaStats& s = host.stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << fmt::format(
      "{}: {} messages read ({} replayed to rebuild state): {} used, {} dead-lettered, {} late; {} alerts fired, "
      "{} retracted ({} sent to Kafka, {} already delivered before a restart); {} commits ({} refused while the group "
      "rebalanced); {} state snapshots "
      "written, {} partitions restored from one; {:.2f} s\n",
      name, s.messages, s.replayed, s.hosts.used, s.hosts.dead_lettered, s.hosts.late, s.hosts.fired,
      s.hosts.retracted, sink.alerts(), sink.muted(), s.commits, s.commits_skipped, s.snapshots, s.restored, secs);
  if (admin) admin->Stop();
  backend.Join();
  if (!ok) {
    std::cerr << name << ": " << error
              << "; stopped: no offset is committed beyond what was delivered, a restart continues from the last commit\n";
    return kUsage;
  }
  if (stop) std::cerr << name << ": stopped by " << (stop == SIGTERM ? "SIGTERM" : "SIGINT") << "; offsets committed\n";
  return kOk;
}

}  // namespace cdr::driver
