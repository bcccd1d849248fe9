// compiler/driver/main.cpp: the `cdr` command line.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "compiler/driver/commands.h"
#include "compiler/driver/eval.h"
#include "compiler/driver/lsp.h"

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
  cmd->add_option("--live", o.live,
                  "the least reviewed status that runs live: approved, review, draft, or none (everything in "
                  "shadow); default: the rule set's `live` (approved unless it says otherwise)")
      ->check(CLI::IsMember({"approved", "review", "draft", "none"}));
  cmd->add_option("--shadow", o.shadow,
                  "run the rules that are not live in shadow: their alerts to this file only (serve with a Kafka "
                  "source: this topic)");
  cmd->add_option("--audit", o.audit,
                  "record the deployment (and each reload, refused reload and retirement) in this hash-chained log; "
                  "a log that does not verify refuses the start");
  cmd->add_option("--approvals", o.approvals, "the approvals log (default: approvals.jsonl beside the rules)");
  cmd->add_option("--stats", o.stats,
                  "write the closing figures as JSON here: events, and per rule alerts fired, retracted, final (by "
                  "severity) and patients");
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
  lint_cmd->add_flag("--fix", lint.fix, "apply the fix-its to the files (showing what changed), then lint again");

  FmtOptions fmt_opts;
  auto* fmt_cmd = app.add_subcommand("fmt", "format .cdr files canonically, in place");
  fmt_cmd->add_option("paths", fmt_opts.paths, "files or directories")->required();
  fmt_cmd->add_flag("--check", fmt_opts.check, "only report files that would change (exit 1)");
  fmt_cmd->add_flag("--diff", fmt_opts.diff, "print the changes formatting would make, writing nothing (exit 1 if any)");

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

  ApproveOptions approve_opts;
  auto* approve_cmd =
      app.add_subcommand("approve", "record an approval of a rule's current content hash in the approvals log");
  approve_cmd->add_option("rule", approve_opts.rule, "the rule's id")->required();
  approve_cmd->add_option("--rules", approve_opts.rules, "the rule set (files or directories)")->required();
  approve_cmd->add_option("--by", approve_opts.by, "who approves")->required();
  approve_cmd->add_option("--role", approve_opts.role, "in what role (as the rule set's `approvals ... including` names it)")
      ->required();
  approve_cmd->add_option("--note", approve_opts.note, "a note kept with the approval");
  approve_cmd->add_option("--hash", approve_opts.hash,
                          "the hash the approver reviewed (sha256:...): refused if the rule's is another");
  approve_cmd->add_option("--key", approve_opts.key, "sign the approval with this Ed25519 private key (PEM)");
  approve_cmd->add_option("--approvals", approve_opts.approvals, "the approvals log (default: approvals.jsonl beside the rules)");
  approve_cmd->add_option("--audit", approve_opts.audit, "also record the approval in this audit log");

  PlanOptions plan_opts;
  auto* approvals_cmd = app.add_subcommand(
      "approvals", "each rule's status, hash, approvals and how `cdr run`/`cdr serve` would run it; exit 1 if refused");
  approvals_cmd->add_option("--rules", plan_opts.rules, "the rule set (files or directories)")->required();
  approvals_cmd->add_option("--live", plan_opts.live, "as `cdr run --live`")
      ->check(CLI::IsMember({"approved", "review", "draft", "none"}));
  approvals_cmd->add_flag("--shadow", plan_opts.shadow, "as with a `--shadow` output");
  approvals_cmd->add_option("--approvals", plan_opts.approvals, "the approvals log (default: approvals.jsonl beside the rules)");
  approvals_cmd->add_option("--format", plan_opts.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));

  auto* audit_cmd = app.add_subcommand("audit", "the hash-chained audit and approvals logs");
  audit_cmd->require_subcommand(1);
  AuditOptions audit_opts;
  auto* verify_cmd = audit_cmd->add_subcommand("verify", "check a log's hash chain; exit 1 naming the first bad entry");
  verify_cmd->add_option("log", audit_opts.log, "the log")->required();
  verify_cmd->add_option("--head", audit_opts.head,
                         "a hash the log's last entry had when last seen (sha256:...): entries deleted from its end "
                         "are found too");
  auto* show_cmd = audit_cmd->add_subcommand("show", "the log's entries, one or a few lines each");
  show_cmd->add_option("log", audit_opts.log, "the log")->required();
  show_cmd->add_option("--kind", audit_opts.kind, "only entries of this kind (approval, deployment, ...)");
  auto* which_cmd = audit_cmd->add_subcommand("which", "the deployments and approvals behind an alert or a rule hash");
  which_cmd->add_option("log", audit_opts.log, "the audit log")->required();
  which_cmd->add_option("query", audit_opts.query, "an alert id (with --alerts) or a rule hash sha256:...")->required();
  which_cmd->add_option("--alerts", audit_opts.alerts, "the alerts file the alert id is in");
  which_cmd->add_option("--approvals", audit_opts.approvals, "also list the approvals of the hash in this approvals log");

  DiffOptions diff_opts;
  auto* diff_cmd = app.add_subcommand(
      "diff", "backtest: two rule sets over one history (or two alert logs), the changes per rule; reports in HTML "
              "and Markdown");
  diff_cmd->add_option("--base", diff_opts.base, "the rule set before (files or directories)");
  diff_cmd->add_option("--head", diff_opts.head, "the rule set after");
  diff_cmd->add_option("--events", diff_opts.events, "the history both run over (NDJSON events, or --format)");
  diff_cmd->add_option("--base-alerts", diff_opts.base_alerts, "instead of running --base: its alerts (production)");
  diff_cmd->add_option("--head-alerts", diff_opts.head_alerts, "instead of running --head: its alerts (a shadow log)");
  diff_cmd->add_option("--report", diff_opts.report, "write the HTML report here");
  diff_cmd->add_option("--markdown", diff_opts.markdown, "write the Markdown summary here");
  diff_cmd->add_option("--json", diff_opts.json, "write the figures as JSON here");
  diff_cmd->add_option("--format", diff_opts.format, "the history's format: ndjson (default), hl7v2 or fhir")
      ->check(CLI::IsMember(FormatNames()));
  diff_cmd->add_option("--allowed-lateness", diff_opts.allowed_lateness, "as `cdr run` (default 24h)");
  diff_cmd->add_option("--max-ahead", diff_opts.max_ahead, "as `cdr run` (default off: a history is replayed)");

  auto* lsp_cmd = app.add_subcommand("lsp", "a language server (LSP 3.17) on stdin and stdout, for editors");
  bool lsp_stdio = false;
  lsp_cmd->add_flag("--stdio", lsp_stdio, "serve on stdin and stdout (the only transport; editors pass it)");

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
    if (*lsp_cmd) return lsp::Serve(0, 1);
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
    if (*approve_cmd) return Approve(approve_opts);
    if (*approvals_cmd) return Plan(plan_opts);
    if (*verify_cmd) return AuditVerify(audit_opts);
    if (*show_cmd) return AuditShow(audit_opts);
    if (*which_cmd) return AuditWhich(audit_opts);
    if (*diff_cmd) return Diff(diff_opts);
  } catch (const std::exception& e) {
    std::cerr << "cdr: internal error: " << e.what() << "\n";
    return kUsage;
  } catch (...) {
    std::cerr << "cdr: internal error\n";
    return kUsage;
  }
  return kUsage;
}
