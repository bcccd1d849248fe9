// compiler/driver/main.cpp: the `cdr` command line.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "compiler/driver/commands.h"
#include "compiler/driver/eval.h"

namespace {

std::vector<std::string> FormatNames() {
  std::vector<std::string> names;
  for (std::string_view name : cdr::runtime::InputFormatNames()) names.emplace_back(name);
  return names;
}

// The options `cdr run` and `cdr serve` share: rules, outputs, engine, checkpoints.
void AddPipelineOptions(CLI::App* cmd, cdr::driver::RunOptions& o) {
  cmd->add_option("--rules", o.rules, "rule and schema files or directories")->required();
  cmd->add_option("--out", o.out, "alerts to this file (default: stdout)");
  cmd->add_option("--trace", o.trace, "every evaluation point's final result to this file");
  cmd->add_option("--dead-letter", o.dead_letter, "events that cannot be used, with the reason (default: stderr)");
  cmd->add_option("--late", o.late, "events later than the allowed lateness (default: stderr)");
  cmd->add_option("--allowed-lateness", o.allowed_lateness, "how late an event may arrive (default 24h)");
  cmd->add_option("--max-ahead", o.max_ahead,
                      "how far after the stream time an event may be without another patient's agreeing (default "
                      "1h; off: no hold)");
  cmd->add_option("--max-clock-skew", o.max_clock_skew,
                      "how far an event's time may be after its recorded time (default 2h; off: not checked)");
  cmd->add_option("--emit", o.emit,
                      "settled (default): a point's alerts once the stream has passed its time; eager: as data arrives")
      ->check(CLI::IsMember({"settled", "eager"}));
  cmd->add_option("--engine", o.engine, "interp, jit or adaptive (default)")
      ->check(CLI::IsMember({"interp", "jit", "adaptive"}));
  cmd->add_option("--opt", o.opt, "LLVM optimisation level of the JIT: 0 or 2 (default)")
      ->check(CLI::IsMember({0, 2}));
  cmd->add_flag("--progress", o.progress, "report progress on stderr (default: when stderr is a terminal)");
  cmd->add_option("--output-mode", o.output_mode,
                      "octal mode of the output files this run creates (default 600: they hold patient data)");
  cmd->add_option("--flush", o.flush,
                      "alert (default): each alert written to its file before the next event is read; batch: in "
                      "64 KiB blocks of whole lines")
      ->check(CLI::IsMember({"alert", "batch"}));
  cmd->add_flag("--fsync", o.fsync, "fsync the alerts file after each write (durable against power loss)");
  cmd->add_option("--format", o.format,
                  "the input: ndjson (events, default), hl7v2 (ORU^R01 messages) or fhir (FHIR R4 resources and "
                  "Bundles; docs/ingest.md)")
      ->check(CLI::IsMember(FormatNames()));
  cmd->add_option("--timezone", o.timezone,
                  "hl7v2: the senders' UTC offset (+01:00, -05:30, Z) for times written without one");
  cmd->add_option("--checkpoint", o.checkpoint,
                      "keep checkpoints in this directory; started again, the run continues from the last one");
  cmd->add_option("--checkpoint-every", o.checkpoint_every,
                      "a checkpoint after this many events (a number) or this much time (a duration; default 1min)");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cdr::driver;
  // A file over the size limit (ulimit -f) is a write error, reported and handled like a
  // full disk, not a silent death by SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"cdr: a compiler and stream engine for clinical decision rules"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cdr ") + Version());

  LintOptions lint;
  auto* lint_cmd = app.add_subcommand("lint", "parse, check and lint .cdr files (directories recursively)");
  lint_cmd->add_option("paths", lint.paths, "files or directories")->required();
  lint_cmd->add_option("--format", lint.format, "text, json or sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  lint_cmd->add_flag("--werror", lint.werror, "treat warnings as errors (exit 1)");
  lint_cmd->add_flag("--color", lint.color, "color the text output");

  FmtOptions fmt_opts;
  auto* fmt_cmd = app.add_subcommand("fmt", "format .cdr files canonically, in place");
  fmt_cmd->add_option("paths", fmt_opts.paths, "files or directories")->required();
  fmt_cmd->add_flag("--check", fmt_opts.check, "only report files that would change (exit 1)");

  std::string ast_path;
  bool ast_ranges = false;
  auto* ast_cmd = app.add_subcommand("ast", "print the syntax tree of a file");
  ast_cmd->add_option("path", ast_path, "a .cdr file")->required();
  ast_cmd->add_flag("--ranges", ast_ranges, "show source ranges");

  std::vector<std::string> ir_paths;
  auto* ir_cmd = app.add_subcommand("ir", "print the IR of the rules (files or directories, with their schemas)");
  ir_cmd->add_option("paths", ir_paths, "files or directories")->required();

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "stream events through the rules; alerts as NDJSON");
  run_cmd->add_option("--events", run.events, "NDJSON events, or - for stdin (default)");
  AddPipelineOptions(run_cmd, run);

  ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "run the rules over a live feed until stopped, with an admin endpoint");
  serve_cmd->add_option("--source", serve.source,
                        "stdin (default), file:PATH (followed as it grows and rotates), kafka:BROKERS/TOPIC "
                        "(a consumer group's member: --group), mllp:HOST:PORT (HL7 v2 over TCP) or http:HOST:PORT (FHIR "
                        "POSTs: subscription notifications; both with --journal)");
  serve_cmd->add_option("--journal", serve.journal,
                        "mllp, http: append each message received to this file, fsync'd before it is acknowledged; the "
                        "rules read it");
  serve_cmd->add_option("--group", serve.kafka.group, "kafka: the consumer group to join");
  serve_cmd->add_option("--alerts-topic", serve.kafka.alerts_topic, "kafka: alerts to this topic (default TOPIC.alerts)");
  serve_cmd->add_option("--routing", serve.kafka.routing,
                        "kafka: a file of RULE SEVERITY TOPIC lines routing alerts to topics (first match wins)");
  serve_cmd->add_option("--dead-letter-topic", serve.kafka.dead_letter_topic,
                        "kafka: events that cannot be used (default TOPIC.dead-letter)");
  serve_cmd->add_option("--late-topic", serve.kafka.late_topic, "kafka: late events (default TOPIC.late)");
  serve_cmd->add_option("--trace-topic", serve.kafka.trace_topic, "kafka: every evaluation point's final result");
  serve_cmd->add_option("--kafka-option", serve.kafka.config, "kafka: a librdkafka setting KEY=VALUE (repeatable)");
  serve_cmd->add_option("--state-topic", serve.kafka.state_topic,
                        "kafka: partition state snapshots to this (compacted) topic (default GROUP.state; none: "
                        "a partition is rebuilt by replaying it)");
  serve_cmd->add_option("--state-every", serve.kafka.state_every,
                        "kafka: how often each partition's state is written (default 1min; also when revoked)");
  serve_cmd->add_option("--idle-timeout", serve.kafka.idle_timeout,
                        "kafka: a partition with no message for this long does not hold the reported watermark back "
                        "(default 1min)");
  serve_cmd->add_option("--commit-every", serve.kafka.commit_every,
                        "kafka: deliver the output and commit the offsets this often (default 1s)");
  serve_cmd->add_option("--admin", serve.admin, "serve /health, /metrics, /rules and /reload on PORT (127.0.0.1) or HOST:PORT (PORT 0: any free one)");
  serve_cmd->add_option("--clock", serve.clock,
                        "event (default): stream time moves with the events; wall: also with the wall clock while "
                        "the feed is quiet")
      ->check(CLI::IsMember({"event", "wall"}));
  AddPipelineOptions(serve_cmd, serve.run);

  ImportOptions import_opts;
  auto* import_cmd = app.add_subcommand("import", "convert a data set to NDJSON events");
  import_cmd->require_subcommand(1);
  auto* physionet_cmd = import_cmd->add_subcommand("physionet2019", "PhysioNet/CinC 2019 .psv stays, merged in time order");
  physionet_cmd->add_option("dir", import_opts.dir, "folder of .psv files")->required();
  physionet_cmd->add_option("--out", import_opts.out, "write events here (default: stdout)");
  auto* mimic_cmd = import_cmd->add_subcommand("mimic-iv", "MIMIC-IV demo: labs, antibiotics, cultures, urine output");
  mimic_cmd->add_option("dir", import_opts.dir, "the folder with hosp/ and icu/")->required();
  mimic_cmd->add_option("--out", import_opts.out, "write events here (default: stdout)");
  auto* hl7v2_cmd = import_cmd->add_subcommand("hl7v2", "HL7 v2 ORU^R01 results (files, or directories of .hl7 files)");
  hl7v2_cmd->add_option("paths", import_opts.paths, "files and directories (- for stdin)")->required();
  hl7v2_cmd->add_option("--out", import_opts.out, "write events here (default: stdout)");
  hl7v2_cmd->add_option("--timezone", import_opts.timezone,
                        "the senders' UTC offset (+01:00, -05:30, Z) for times written without one");
  auto* fhir_cmd = import_cmd->add_subcommand(
      "fhir", "FHIR R4 Observations, MedicationAdministrations and MedicationRequests (resources, Bundles, bulk NDJSON; directories of .json, .ndjson)");
  fhir_cmd->add_option("paths", import_opts.paths, "files and directories (- for stdin)")->required();
  fhir_cmd->add_option("--out", import_opts.out, "write events here (default: stdout)");

  auto* schema_cmd = app.add_subcommand("schema", "schemas across versions");
  schema_cmd->require_subcommand(1);
  std::string schema_before, schema_after;
  auto* schema_diff_cmd = schema_cmd->add_subcommand(
      "diff", "the schema changes from OLD to NEW (rule sets: files or directories); exit 1 when one breaks a rule");
  schema_diff_cmd->add_option("old", schema_before, "the running rules and schemas")->required();
  schema_diff_cmd->add_option("new", schema_after, "the candidate")->required();

  TestOptions test_opts;
  auto* test_cmd = app.add_subcommand("test", "run the rule tests in .cdr files, with coverage");
  test_cmd->add_option("paths", test_opts.paths, "files or directories (with the rules and schemas)")->required();
  test_cmd->add_option("--engine", test_opts.engine, "interp, jit, or both (default; adaptive also runs both)")
      ->check(CLI::IsMember({"interp", "jit", "adaptive", "both"}));
  test_cmd->add_option("--opt", test_opts.opt, "LLVM optimisation level of the JIT: 0 or 2 (default)")
      ->check(CLI::IsMember({0, 2}));
  test_cmd->add_flag("-v,--verbose", test_opts.verbose, "list passing tests too");

  std::string eval_expr, eval_format = "text";
  auto* eval_cmd = app.add_subcommand("eval", "evaluate a closed expression and print it as a CQL literal");
  eval_cmd->add_option("expression", eval_expr, "the expression, e.g. '1.5 * 2'")->required();
  eval_cmd->add_option("--format", eval_format, "text (the value) or json (diagnostics only)")
      ->check(CLI::IsMember({"text", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  try {
    if (*lint_cmd) return Lint(lint);
    if (*fmt_cmd) return Fmt(fmt_opts);
    if (*ast_cmd) return Ast(ast_path, ast_ranges);
    if (*ir_cmd) return Ir(ir_paths);
    if (*run_cmd) return Run(run);
    if (*serve_cmd) return Serve(serve);
    if (*test_cmd) return TestRules(test_opts);
    if (*eval_cmd) return Eval(eval_expr, eval_format);
    if (*physionet_cmd) return ImportPhysionet(import_opts);
    if (*mimic_cmd) return ImportMimic(import_opts);
    if (*hl7v2_cmd) return ImportFormat("hl7v2", import_opts);
    if (*fhir_cmd) return ImportFormat("fhir", import_opts);
    if (*schema_diff_cmd) return SchemaDiff(schema_before, schema_after);
  } catch (const std::exception& e) {
    std::cerr << "cdr: internal error: " << e.what() << "\n";
    return kUsage;
  } catch (...) {
    std::cerr << "cdr: internal error\n";
    return kUsage;
  }
  return kUsage;
}
