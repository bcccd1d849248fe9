// compiler/driver/commands.h: the `cdr` subcommands of the front end.
#pragma once

#include <csignal>
#include <cstdint>
#include <fstream>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/driver/frontend.h"
#include "runtime/engine.h"
#include "runtime/input_format.h"
#include "runtime/interpreter.h"
#include "runtime/output_file.h"

namespace cdr::driver {

/// Exit codes shared by the commands (docs/cli.md).
enum ExitCode : int { kOk = 0, kFailed = 1, kUsage = 2 };

struct LintOptions {
  std::vector<std::string> paths;
  std::string format = "text";  // text | json | sarif
  bool werror = false;
  bool color = false;
  bool fix = false;  // apply the fix-its, show what changed, then lint again
};
int Lint(const LintOptions& options);

struct FmtOptions {
  std::vector<std::string> paths;
  bool check = false;
  bool diff = false;  // print what would change (as --check: nothing written, exit 1)
};
int Fmt(const FmtOptions& options);

struct RunOptions {
  std::vector<std::string> rules;
  std::string events = "-";
  std::string out;          // alerts; stdout when empty
  std::string trace;        // none when empty
  std::string dead_letter;  // stderr when empty
  std::string late;         // stderr when empty
  std::string allowed_lateness = "24h";
  std::string emit = "settled";
  std::string max_ahead = "1h";        // or "off"
  std::string max_clock_skew = "2h";  // or "off"
  std::string engine = "adaptive";
  int opt = 2;
  bool progress = false;
  std::string output_mode = "600";  // octal mode of output files this run creates
  std::string flush = "alert";      // alert: each alert on the file before the next event; batch: when the buffer fills
  bool fsync = false;               // fsync(2) the alerts file after each flush
  std::string checkpoint;           // checkpoint directory; none when empty
  std::string checkpoint_every = "1min";  // events (a number) or a duration
  std::string format = "ndjson";          // the input format (runtime/input_format.h)
  std::string timezone;                   // hl7v2: the senders' UTC offset for times without one
  // Governance (docs/governance.md).
  std::string live;       // --live approved|review|draft|none; empty: the rule set's policy
  std::string shadow;     // the alerts of rules running in shadow; none when empty (rules not live do not run)
  std::string audit;      // the audit log a deployment is recorded in; none when empty
  std::string approvals;  // the approvals log; empty: approvals.jsonl beside the rules
  std::string stats;      // the closing figures as JSON (per rule); none when empty
};
/// `cdr run`: 0 done, 1 rules refused, 2 usage or I/O error.
int Run(const RunOptions& options);

/// A Kafka source's outputs and group (`--source kafka:BROKERS/TOPIC`).
struct KafkaServeOptions {
  std::string group;              // the consumer group
  std::string alerts_topic;       // default TOPIC.alerts
  std::string routing;            // a routing file (rule, severity -> topic); none when empty
  std::string dead_letter_topic;  // default TOPIC.dead-letter
  std::string late_topic;         // default TOPIC.late
  std::string trace_topic;        // none when empty
  std::vector<std::string> config;  // librdkafka settings, key=value
  std::string commit_every = "1s";
  std::string state_topic;         // default GROUP.state; "none": no snapshots (a new assignment replays)
  std::string state_every = "1min";
  std::string idle_timeout = "1min";  // a partition quiet this long does not hold the reported watermark back
};

struct ServeOptions {
  RunOptions run;               // rules, outputs, engine, checkpoints (not --events)
  std::string source = "stdin";  // stdin, file:PATH, kafka:BROKERS/TOPIC, or mllp:HOST:PORT
  KafkaServeOptions kafka;
  std::string journal;  // mllp: the journal of the messages received (the pipeline's input)
  std::string admin;            // HOST:PORT of the admin endpoint; none when empty
  std::string clock = "event";  // event, or wall: the stream time also follows the wall clock when idle
};
/// `cdr serve`: runs until stopped (SIGTERM, SIGINT) or its source ends; 0 done, 1 rules
/// refused, 2 usage or I/O error.
int Serve(const ServeOptions& options);

struct ImportOptions {
  std::string dir;
  std::string out;  // stdout when empty
  std::vector<std::string> paths;  // hl7v2, fhir: files and directories
  std::string timezone;            // hl7v2: the senders' offset for times without one
};
/// `cdr import physionet2019 DIR`: 0 done, 2 usage or I/O error.
int ImportPhysionet(const ImportOptions& options);
/// One measurement of a PhysioNet stay, as `cdr import physionet2019` emits it.
struct PsvRow {
  int64_t time;
  std::string patient;
  size_t column;
  std::string value;  // canonical decimal text
  int iculos;
};
/// Reads one `.psv` stay; problems are reported on `err` and counted. False when the
/// file has no usable header.
bool ReadPsvStay(std::istream& in, const std::string& patient, const std::string& where, std::vector<PsvRow>& rows,
                 size_t& lines, size_t& problems, std::ostream& err);
/// The NDJSON event of one measurement.
std::string PsvEventJson(const PsvRow& row);

/// The events `cdr import mimic-iv` makes of four tables given as CSV text (labevents,
/// emar, microbiologyevents, outputevents), in recorded order; problems go to `err`.
std::vector<std::string> MimicEventsFromText(const std::vector<std::string>& tables, std::ostream& err);

/// `cdr import mimic-iv DIR`: the MIMIC-IV demo layout; 0 done, 2 usage or I/O error.
int ImportMimic(const ImportOptions& options);

struct FormatImportStats {
  size_t records = 0;   // messages, resources or Bundles read
  size_t skipped = 0;   // parts with nothing to read (an ADT message, a Patient resource)
  size_t events = 0;    // written
  size_t problems = 0;  // parts, records or files refused (each reported on stderr)
};
/// The events of a stream in an input format, written to `out` one per line; problems are
/// reported on stderr with `where` and the record's line.
FormatImportStats ImportRecords(const runtime::InputFormat& format, std::istream& in, const std::string& where,
                                std::ostream& out);
/// `cdr import hl7v2|fhir PATH...`: 0 done, 2 usage or I/O error.
int ImportFormat(const std::string& format, const ImportOptions& options);

/// `cdr schema diff OLD NEW`: the schema changes between two rule sets (files or
/// directories), those that break a rule of OLD marked; 0 none breaks, 1 some break, 2
/// a set does not compile or a path does not exist.
int SchemaDiff(const std::string& before, const std::string& after);

struct TestOptions {
  std::vector<std::string> paths;
  std::string engine = "both";  // interp, jit, or both (adaptive runs both)
  int opt = 2;
  bool verbose = false;
};
/// `cdr test`: 0 all pass, 1 a failure (or rules with errors), 2 usage or I/O error.
int TestRules(const TestOptions& options);

/// The rule tests of a compiled rule set, each on the interpreter (`interp`) and on
/// `native` code when given, against the same expectations (`cdr test`, serve's reload).
struct RuleTestResults {
  int passed = 0, failed = 0;
  std::vector<std::pair<bool, std::string>> lines;  // per test, in order: passed, and its PASS or FAIL text
  std::vector<runtime::Coverage> coverage;          // per rule
  std::map<size_t, int> tests_of_rule;
};
RuleTestResults RunRuleTests(const Frontend& fe, const std::vector<std::vector<runtime::NativeBlock>>* native,
                             bool interp);

/// `4h`, `90min`, `2d` in milliseconds.
std::optional<int64_t> ParseDurationMs(std::string_view text);
/// The engine's options of a run from its command line; nullopt and the message of the
/// first bad one.
std::optional<runtime::EngineOptions> EngineOptionsOf(const RunOptions& o, std::string& error);
/// What state saved by an engine depends on: the rules (ir::Fingerprint) and the options
/// that change results, one `name: value` line each (checkpoints, Kafka state snapshots).
std::string EngineIdentity(const ir::Module& module, const runtime::EngineOptions& options);
/// The input format of `--format` and `--timezone` (null: NDJSON events), or nothing
/// with the reason in `error`.
std::optional<std::unique_ptr<runtime::InputFormat>> InputFormatOf(const RunOptions& o, runtime::FormatOptions& format_options,
                                                                   std::string& error);
/// What a checkpoint or a state snapshot depends on of the input format (a line each).
std::string FormatIdentity(const RunOptions& o);
/// The wall clock's present as RFC 3339 text (logs, the admin endpoint).
std::string NowText();
/// SIGHUP sets the flag pointed to (serve: reload the rules).
volatile sig_atomic_t* CatchReloadSignal();
/// The first SIGTERM or SIGINT sets the flag pointed to (its signal's number); a second one
/// kills as usual.
volatile sig_atomic_t* CatchStopSignals();
/// `cdr serve --source kafka:...` (compiler/driver/serve_kafka.cpp).
int ServeKafka(const ServeOptions& options);

struct ApproveOptions {
  std::string rule;
  std::vector<std::string> rules;
  std::string by, role, note, hash, key, approvals;
  std::string audit;  // also recorded in this audit log
};
/// `cdr approve RULE`: 0 recorded, 1 refused (the rules have errors, no such rule, another
/// hash, a retired rule, a log that does not verify), 2 usage or I/O error.
int Approve(const ApproveOptions& options);

struct PlanOptions {
  std::vector<std::string> rules;
  std::string live, approvals, format = "text";
  bool shadow = false;
};
/// `cdr approvals`: how each rule would run; 0 the rule set would run, 1 refused.
int Plan(const PlanOptions& options);

struct AuditOptions {
  std::string log, head, kind, query, alerts, approvals;
};
/// `cdr audit verify|show|which` (docs/governance.md): 0 ok, 1 the chain is broken (or
/// nothing found), 2 usage or I/O error.
int AuditVerify(const AuditOptions& options);
int AuditShow(const AuditOptions& options);
int AuditWhich(const AuditOptions& options);

struct DiffOptions {
  std::vector<std::string> base, head;
  std::string events, base_alerts, head_alerts;
  std::string report, markdown, json;
  std::string format = "ndjson";
  std::string allowed_lateness = "24h";
  std::string max_ahead = "off";
};
/// `cdr diff`: 0 done (whatever changed), 1 a rule set refused, 2 usage or I/O error.
int Diff(const DiffOptions& options);

/// Prints the IR of the rules in `paths` (with their schemas).
int Ir(const std::vector<std::string>& paths);

/// Prints the syntax tree of one file (`--ranges` adds source ranges).
int Ast(const std::string& path, bool ranges);

struct Frontend;
/// Compiles rule files for a command; on errors prints them and returns the exit code
/// (1 for rule errors, 2 for a missing path or unreadable file), else kOk.
int CompileOrReport(Frontend& fe, const std::vector<std::string>& paths, const char* command);

/// Where a command writes: stdout for an empty path or `-`, else the opened file.
/// Returns nullptr (after saying so on stderr) when the file cannot be written.
/// Opens an output of `command` (stdout for "" or "-"): created 0600, emptied; null after
/// reporting why it cannot be written.
std::ostream* OpenOutput(const std::string& path, std::unique_ptr<runtime::OutputFile>& file, const char* command);
/// Flushes an output of OpenOutput; false after reporting a failed write with its file.
bool CloseOutput(std::ostream* out, runtime::OutputFile* file, const char* command);

/// The version printed by `cdr --version` and written into SARIF logs.
const char* Version();

}  // namespace cdr::driver
