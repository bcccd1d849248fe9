// compiler/ir/print.cpp: the IR as text (`cdr ir`), and its structural verifier.
#include <fmt/format.h>

#include "compiler/ir/ir.h"
#include "stdlib/decimal.h"
#include "stdlib/hash.h"

namespace cdr::ir {

const char* OpName(Op op) {
  switch (op) {
#define IR_OP(id, name, n) \
  case Op::id:             \
    return name;
#include "compiler/ir/ops.def"
#undef IR_OP
  }
  return "?";
}

int OperandCount(Op op) {
  switch (op) {
#define IR_OP(id, name, n) \
  case Op::id:             \
    return n;
#include "compiler/ir/ops.def"
#undef IR_OP
  }
  return 0;
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Dec: return "dec";
    case Kind::Text: return "text";
    case Kind::Time: return "time";
  }
  return "?";
}

namespace {

std::string Raw(Kind k, int64_t v) {
  switch (k) {
    case Kind::Bool: return v ? "true" : "false";
    case Kind::Dec: return stdlib::Decimal::FromRaw(v).ToString();
    case Kind::Text: return fmt::format("text#{}", v);
    default: return std::to_string(v);
  }
}

std::string Bound(int64_t v, Kind k) {
  if (v == INT64_MIN) return "-inf";
  if (v == INT64_MAX) return "+inf";
  return Raw(k == Kind::Int ? Kind::Int : k, v);
}

}  // namespace

std::string Print(const Module& m) {
  std::string out;
  // The responses no rule reads are listed by the rules themselves (one of each per rule).
  std::vector<bool> read(m.signals.size());
  for (const Rule& r : m.rules) {
    for (const SignalSlot& slot : r.slots) {
      if (slot.signal >= 0 && static_cast<size_t>(slot.signal) < read.size()) read[static_cast<size_t>(slot.signal)] = true;
    }
  }
  for (size_t i = 0; i < m.signals.size(); ++i) {
    const Signal& s = m.signals[i];
    if (s.response) {
      if (read[i]) out += fmt::format("signal {} = responses\n", s.name);
      continue;
    }
    if (s.derived()) {
      out += fmt::format("signal {}{} = rule#{} let#{}\n", s.name, s.unit.empty() ? "" : " '" + s.unit + "'", s.rule, s.let);
      continue;
    }
    out += fmt::format("signal {}.{}{}\n", s.schema, s.name, s.unit.empty() ? "" : " '" + s.unit + "'");
  }
  if (m.retention_ms) out += fmt::format("retention {}ms\n", m.retention_ms);
  for (const Rule& r : m.rules) {
    out += fmt::format("\nrule {} version {} {}{}\n", r.id, r.version, r.hash, r.shadow ? " shadow" : "");
    for (size_t i = 0; i < r.slots.size(); ++i) {
      out += fmt::format("  slot {} = {}\n", i, r.slots[i].signal >= 0 ? m.signals[static_cast<size_t>(r.slots[i].signal)].name : "?");
    }
    for (size_t i = 0; i < r.texts.size(); ++i) out += fmt::format("  text#{} = '{}'\n", i, r.texts[i]);
    // An instant after a slot's events: `slot1 +30000ms`, `slot1 +retention+30000ms`.
    auto instant = [](const Timer& t) {
      return fmt::format("slot{} +{}{}ms", t.slot, t.after_retention ? "retention+" : "", t.offset_ms);
    };
    for (size_t b = 0; b < r.blocks.size(); ++b) {
      out += fmt::format("  block {}:\n", b);
      if (!r.blocks[b].changes.empty()) {
        std::string changes;
        for (const Timer& c : r.blocks[b].changes) changes += (changes.empty() ? "" : ", ") + instant(c);
        out += "    changes at " + changes + "\n";
      }
      const auto& insts = r.blocks[b].insts;
      for (size_t i = 0; i < insts.size(); ++i) {
        const Inst& in = insts[i];
        std::string line = fmt::format("    %{} = {} {}{}", i, OpName(in.op), KindName(in.kind), in.may_be_unknown ? "?" : "");
        for (InstId x : {in.a, in.b, in.c}) {
          if (x >= 0) line += fmt::format(" %{}", x);
        }
        switch (in.op) {
          case Op::Const: line += " " + Raw(in.kind, in.imm); break;
          case Op::Convert: {
            const Conversion& c = r.conversions[static_cast<size_t>(in.aux)];
            line += fmt::format(" * {}/{}", c.num, c.den);
            if (c.from_offset || c.to_offset) {
              line += fmt::format(" offsets {} {}", stdlib::Decimal::FromRaw(c.from_offset).ToString(),
                                  stdlib::Decimal::FromRaw(c.to_offset).ToString());
            }
            break;
          }
          case Op::Agg:
            line += fmt::format(" {} slot{} window {}", stdlib::Name(static_cast<AggKind>(in.imm2)), in.aux,
                                in.imm < 0 ? std::string("all") : std::to_string(in.imm) + "ms");
            break;
          case Op::Latest: line += fmt::format(" slot{}", in.aux); break;
          case Op::Absence: line += fmt::format(" slot{} window {}ms", in.aux, in.imm); break;
          case Op::Sequence: line += fmt::format(" slot{} then slot{} within {}ms", in.aux, in.imm2, in.imm); break;
          case Op::Sustained: line += fmt::format(" block{} %{} for {}ms", in.aux, in.imm2, in.imm); break;
          case Op::Bands: {
            const BandTable& t = r.bands[static_cast<size_t>(in.aux)];
            Kind sk = insts[static_cast<size_t>(in.a)].kind;
            for (const BandRow& row : t.rows) {
              if (row.is_else) line += fmt::format(" [else: %{}]", row.value);
              else line += fmt::format(" [{} .. {}: %{}]", Bound(row.low, sk), Bound(row.high, sk), row.value);
            }
            break;
          }
          default: break;
        }
        out += line + "\n";
      }
    }
    for (const Let& l : r.lets) {
      out += fmt::format("  let {} = %{}{}\n", l.name, l.inst, l.unit.empty() ? "" : " '" + l.unit + "'");
    }
    for (const When& w : r.whens) {
      std::string msg;
      for (const auto& p : w.message) {
        if (p.let < 0) {
          msg += p.text;
        } else {
          msg += "{" + r.lets[static_cast<size_t>(p.let)].name + (p.places >= 0 ? fmt::format(":.{}", p.places) : "") + "}";
        }
      }
      out += fmt::format("  when %{} alert {} \"{}\"\n", w.cond, w.severity, msg);
    }
    for (const Timer& t : r.timers) out += "  timer " + instant(t) + "\n";
    for (const EvidenceSite& e : r.evidence) out += fmt::format("  evidence %{} as {}\n", e.inst, e.name);
    if (r.suppress_ms) out += fmt::format("  suppress {}ms\n", r.suppress_ms);
    out += fmt::format("  looks back {}ms\n", r.longest_window_ms);
  }
  return out;
}

std::string Fingerprint(const Module& m) {
  std::string all = Print(m);
  for (const Signal& s : m.signals) {
    all += fmt::format("\nsignal {}.{} type {}", s.schema, s.name, static_cast<int>(s.type));
    if (!s.kind.empty()) all += " from " + s.kind;
    for (const Code& c : s.codes) all += fmt::format(" code {}|{}", c.system, c.code);
    for (const Code& c : s.valueset_codes) all += fmt::format(" valueset {}|{}", c.system, c.code);
    for (const auto& member : s.members) all += " member " + member;
    for (const UnitConversion& u : s.conversions) {
      all += fmt::format(" convert {} {}/{} {} {}", u.unit, u.to_canonical.num, u.to_canonical.den, u.to_canonical.from_offset,
                         u.to_canonical.to_offset);
    }
    if (s.has_plausible) all += fmt::format(" plausible {} {} {}", s.plausible_low, s.plausible_high, s.keep_implausible);
  }
  return stdlib::Sha256Hex(all);
}

std::vector<std::string> Verify(const Module& m) {
  std::vector<std::string> problems;
  auto bad = [&](const Rule& r, size_t b, size_t i, const std::string& what) {
    problems.push_back(fmt::format("rule {} block {} %{}: {}", r.id, b, i, what));
  };
  for (const Rule& r : m.rules) {
    if (r.blocks.empty()) problems.push_back("rule " + r.id + ": no blocks");
    for (size_t b = 0; b < r.blocks.size(); ++b) {
      const auto& insts = r.blocks[b].insts;
      for (size_t i = 0; i < insts.size(); ++i) {
        const Inst& in = insts[i];
        int n = OperandCount(in.op);
        InstId ops[] = {in.a, in.b, in.c};
        for (int k = 0; k < 3; ++k) {
          if (k < n && (ops[k] < 0 || static_cast<size_t>(ops[k]) >= i)) bad(r, b, i, "operand not defined before use");
          if (k >= n && ops[k] != -1) bad(r, b, i, "unexpected operand");
        }
        auto kind = [&](InstId x) { return insts[static_cast<size_t>(x)].kind; };
        switch (in.op) {
          case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Lt: case Op::Le: case Op::Gt:
          case Op::Ge: case Op::Eq: case Op::Ne: case Op::Equiv: case Op::Coalesce:
            if (n == 2 && in.a >= 0 && in.b >= 0 && static_cast<size_t>(in.a) < i && static_cast<size_t>(in.b) < i &&
                kind(in.a) != kind(in.b) && !(in.kind == Kind::Time && kind(in.b) == Kind::Dec) &&
                !(in.op == Op::Sub && kind(in.a) == Kind::Time)) {
              bad(r, b, i, fmt::format("operands of different kinds ({} and {})", KindName(kind(in.a)), KindName(kind(in.b))));
            }
            break;
          case Op::And: case Op::Or: case Op::Xor: case Op::Implies:
            if (in.a >= 0 && static_cast<size_t>(in.a) < i && kind(in.a) != Kind::Bool) bad(r, b, i, "boolean operator on a non-boolean");
            break;
          case Op::Convert:
            if (in.aux < 0 || static_cast<size_t>(in.aux) >= r.conversions.size()) bad(r, b, i, "conversion out of range");
            else if (r.conversions[static_cast<size_t>(in.aux)].den <= 0) bad(r, b, i, "conversion with a zero denominator");
            break;
          case Op::Bands:
            if (in.aux < 0 || static_cast<size_t>(in.aux) >= r.bands.size()) {
              bad(r, b, i, "band table out of range");
            } else {
              for (const BandRow& row : r.bands[static_cast<size_t>(in.aux)].rows) {
                if (row.value < 0 || static_cast<size_t>(row.value) >= i) bad(r, b, i, "band value not defined before use");
              }
            }
            break;
          case Op::Agg: case Op::Latest: case Op::Absence:
            if (in.aux < 0 || static_cast<size_t>(in.aux) >= r.slots.size()) bad(r, b, i, "signal slot out of range");
            break;
          case Op::Sequence:
            if (in.aux < 0 || static_cast<size_t>(in.aux) >= r.slots.size() || in.imm2 < 0 ||
                static_cast<size_t>(in.imm2) >= r.slots.size()) {
              bad(r, b, i, "signal slot out of range");
            }
            break;
          case Op::Sustained:
            if (in.aux <= 0 || static_cast<size_t>(in.aux) >= r.blocks.size() || in.imm2 < 0 ||
                static_cast<size_t>(in.imm2) >= r.blocks[static_cast<size_t>(in.aux)].insts.size()) {
              bad(r, b, i, "sustained block out of range");
            }
            break;
          default: break;
        }
      }
    }
    auto slot_ok = [&](const Timer& t) { return t.slot >= 0 && static_cast<size_t>(t.slot) < r.slots.size() && t.offset_ms >= 0; };
    for (size_t b = 0; b < r.blocks.size(); ++b) {
      for (const Timer& c : r.blocks[b].changes) {
        if (!slot_ok(c)) problems.push_back("rule " + r.id + ": block " + std::to_string(b) + ": change instant out of range");
      }
      // A `for` condition that reads events has instants to be checked at.
      if (b > 0 && r.blocks[b].changes.empty()) {
        for (const Inst& in : r.blocks[b].insts) {
          if (in.op == Op::Agg || in.op == Op::Latest || in.op == Op::Absence || in.op == Op::Sequence) {
            problems.push_back("rule " + r.id + ": block " + std::to_string(b) + " reads events but has no change instants");
            break;
          }
        }
      }
    }
    for (const Timer& t : r.timers) {
      if (!slot_ok(t)) problems.push_back("rule " + r.id + ": timer out of range");
    }
    for (const Let& l : r.lets) {
      if (l.inst < 0 || r.blocks.empty() || static_cast<size_t>(l.inst) >= r.blocks[0].insts.size()) {
        problems.push_back("rule " + r.id + ": let " + l.name + " out of range");
      }
    }
    for (const When& w : r.whens) {
      if (w.cond < 0 || r.blocks.empty() || static_cast<size_t>(w.cond) >= r.blocks[0].insts.size() ||
          r.blocks[0].insts[static_cast<size_t>(w.cond)].kind != Kind::Bool) {
        problems.push_back("rule " + r.id + ": when condition is not a boolean instruction");
      }
    }
    for (const auto& s : r.slots) {
      if (s.signal < 0 || static_cast<size_t>(s.signal) >= m.signals.size()) {
        problems.push_back("rule " + r.id + ": unknown signal slot");
        continue;
      }
      // A derived signal comes from an earlier rule's let, so one pass in order computes it.
      const Signal& sig = m.signals[static_cast<size_t>(s.signal)];
      if (sig.derived() && (static_cast<size_t>(sig.rule) >= static_cast<size_t>(&r - m.rules.data()) || sig.let < 0 ||
                            static_cast<size_t>(sig.let) >= m.rules[static_cast<size_t>(sig.rule)].lets.size())) {
        problems.push_back("rule " + r.id + ": derived signal " + sig.name + " is not computed by an earlier rule");
      }
    }
  }
  return problems;
}

}  // namespace cdr::ir
