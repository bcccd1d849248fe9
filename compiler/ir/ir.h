// compiler/ir/ir.h: the typed IR that both back ends execute (interpreter, JIT).
// A rule is a list of blocks of instructions in topological order; instructions refer
// to earlier ones by index. Units are resolved: every quantity is a decimal in a known
// unit and every conversion is an explicit `convert`. Nothing here refers to the AST.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stdlib/functions.h"

namespace cdr::ir {

enum class Op : uint8_t {
#define IR_OP(id, name, n) id,
#include "compiler/ir/ops.def"
#undef IR_OP
};
const char* OpName(Op op);
int OperandCount(Op op);

/// Runtime representation of a value: Bool (0/1), Int (int64), Dec (raw 10^-8 steps),
/// Text (an index into the rule's texts, interned by the runtime), Time (ms since epoch).
enum class Kind : uint8_t { Bool, Int, Dec, Text, Time };
const char* KindName(Kind k);

/// An `agg` instruction's aggregate (stdlib/functions.def).
using AggKind = stdlib::Aggregate;

using InstId = int32_t;

struct Inst {
  Op op = Op::Unknown;
  Kind kind = Kind::Bool;
  bool may_be_unknown = true;
  InstId a = -1, b = -1, c = -1;
  int64_t imm = 0;
  int64_t imm2 = 0;
  int32_t aux = -1;
};

/// Instants relative to a signal's events: every event of `slot`, `offset_ms` later, plus
/// the retention (the reach of a lookback without a window) when `after_retention`.
struct Timer {
  int32_t slot = -1;
  int64_t offset_ms = 0;
  bool after_retention = false;
  bool operator==(const Timer& o) const {
    return slot == o.slot && offset_ms == o.offset_ms && after_retention == o.after_retention;
  }
};

struct Block {
  std::vector<Inst> insts;
  /// For a `for` condition's block: the instants at which its value can change (an event
  /// entering a window, or leaving it). Between them the condition is constant, so `for`
  /// checks it at these instants only. Empty for block 0.
  std::vector<Timer> changes;
};

/// value_in_target = (value + from_offset) * num / den - to_offset (offsets raw decimals).
struct Conversion {
  int64_t num = 1, den = 1;
  int64_t from_offset = 0, to_offset = 0;
};

/// One band row as a closed interval of raw values (numbers) or one key (text, bool).
struct BandRow {
  bool is_else = false;
  int64_t low = INT64_MIN, high = INT64_MAX;
  InstId value = -1;  // in the block that holds the `bands`
  std::string text;   // its condition as written (`> 8 and <= 11`), for coverage reports
};
struct BandTable {
  std::vector<BandRow> rows;
  std::string let;  // the `let` it is in, for coverage reports
};

/// A value a rule reads: one signal of a schema.
struct SignalSlot {
  int32_t signal = -1;  // index into Module::signals
};

struct Let {
  std::string name;
  InstId inst = -1;
  Kind kind = Kind::Bool;
  std::string unit;  // for quantities: the unit of the decimal
  bool published = false;  // read by another rule as a derived signal (`rule.let`)
};

struct MessagePart {
  std::string text;  // literal text, or
  int32_t let = -1;  // a let's value
  int32_t places = -1;  // `{name:.N}`: exactly N decimal places; -1: as the value prints
};

struct When {
  InstId cond = -1;
  std::string severity;
  std::vector<MessagePart> message;
};

/// An aggregate whose events are reported as evidence, and the name it is reported under.
struct EvidenceSite {
  InstId inst = -1;
  std::string name;
};

struct Rule {
  std::string id, version, title, status, hash;  // hash: "sha256:..." of the canonical rule text
  std::vector<SignalSlot> slots;
  std::vector<Block> blocks;  // blocks[0] is the rule; others are `for` conditions
  std::vector<Conversion> conversions;
  std::vector<BandTable> bands;
  std::vector<std::string> texts;
  std::vector<Let> lets;
  std::vector<When> whens;
  /// Times after events at which the rule must also be evaluated: when `no S within D`
  /// becomes true, and when a `for` condition has held for its duration since it could
  /// have become true.
  std::vector<Timer> timers;
  std::vector<EvidenceSite> evidence;
  int64_t suppress_ms = 0;
  int64_t longest_window_ms = 0;  // how far back the rule looks (for re-evaluation and retention)
  /// Runs in shadow (docs/governance.md): its alerts go to the shadow output only.
  bool shadow = false;
};

enum class SignalType : uint8_t { Quantity, Boolean, Integer, Decimal, Text, Code, Enum, Event };

struct Code {
  std::string system, code;
};

struct UnitConversion {
  std::string unit;  // UCUM text accepted at ingest
  Conversion to_canonical;
};

struct Signal {
  std::string name, schema;
  SignalType type = SignalType::Event;
  std::string unit;  // canonical unit of quantities
  std::vector<Code> codes;
  std::vector<std::string> members;  // enum
  std::vector<UnitConversion> conversions;  // declared `convert` units (UCUM ones are found at ingest)
  std::vector<Code> valueset_codes;  // `code in valueset V`: these codes map to this signal, as its value
  /// `from KIND`: its codes map events of that kind of record only (`order`: an event with
  /// `"kind": "order"`); empty: events without a kind (observations, administrations).
  std::string kind;
  /// `plausible LOW .. HIGH`, raw in the signal's unit (integers as integers): a value
  /// outside is refused at ingest, or used and flagged with `keep_implausible`.
  bool has_plausible = false;
  int64_t plausible_low = 0, plausible_high = 0;
  bool keep_implausible = false;
  /// A derived signal (`rule.let`): computed by Module::rules[rule], the value of its
  /// lets[let] at each of its evaluation points where it is known. Never read from input.
  int32_t rule = -1, let = -1;
  bool derived() const { return rule >= 0; }
  /// `R.acknowledged`, `R.overridden`, `R.escalated` (stdlib/responses.h), one of each for every
  /// rule: set only by alert responses to R's alerts, never by `signal` or `code`.
  bool response = false;
};

struct Module {
  std::vector<Signal> signals;
  /// In the order they run: a rule comes after every rule whose lets it reads.
  std::vector<Rule> rules;
  int64_t retention_ms = 0;  // declared by a rule set, or 0
};

/// A readable listing (`cdr ir`).
std::string Print(const Module& m);
/// The SHA-256 (hex) of everything the module decides: its listing (Print) and what the
/// listing leaves out (signal codes, members, accepted units, plausible ranges). Two
/// modules with one fingerprint read the same events into the same results.
std::string Fingerprint(const Module& m);
/// Structural checks: operands defined before use, kinds agree, indices in range.
/// Returns the problems found (empty when valid).
std::vector<std::string> Verify(const Module& m);

}  // namespace cdr::ir
