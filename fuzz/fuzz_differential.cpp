// fuzz/fuzz_differential.cpp: the interpreter against the JIT. The input bytes choose a
// well-typed rule (lets of every kind of expression the language has: aggregates,
// arithmetic on integers, decimals and quantities, comparisons, three-valued logic,
// `??`, `if`, `case`, bands, `for`, `no ... within`, `then ... within`, functions), now
// and then with a second rule reading the first's lets as derived signals, and an
// event stream (values, gaps, amendments, entered-in-error, late and malformed events).
// The stream runs through the engine on the interpreter, on the JIT (-O0 or -O2), and
// adaptively (native code taking over at a chosen event); any difference in the alerts
// (ids and `values` included), the trace, the dead letters or the late events is a
// finding. A rule the generator gets wrong (a front-end error) is skipped, not a finding.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/jit/jit.h"
#include "fuzz/fuzz_common.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"

namespace {

class Bytes {
 public:
  Bytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint32_t Next(uint32_t bound) {  // in [0, bound)
    if (bound <= 1) return 0;
    uint32_t v = 0;
    for (int k = 0; k < 2; ++k) v = (v << 8) | (i_ < n_ ? d_[i_++] : 0);
    return v % bound;
  }
  bool Coin() { return Next(2) == 1; }
  bool Done() const { return i_ >= n_; }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t i_ = 0;
};

const char* const kSchema = R"(schema s version "1.0.0"
  signal hr : quantity '/min' codes loinc "8867-4" plausible 0 .. 300
  signal cr : quantity 'mg/dL' codes loinc "2160-0" plausible 0 .. 40 convert 'umol/L' factor 0.011312
  signal gcs : integer codes loinc "9269-2" plausible 3 .. 15
  signal o2 : boolean codes local "O2"
  signal avpu : enum { alert, voice, pain } codes local "AVPU"
  event abx : code codes local "ABX"
)";

class RuleGen {
 public:
  explicit RuleGen(Bytes& b) : b_(b) {}

  std::string Rule() {
    std::string r = kSchema;
    r += "rule f version \"1.0.0\"\n  title \"t\"\n  owner \"o\"\n  status draft\n  cites \"c\"\n  uses s\n";
    int lets = 1 + static_cast<int>(b_.Next(6));
    for (int i = 0; i < lets; ++i) {
      int type = static_cast<int>(b_.Next(4));
      std::string e = type == 0 ? Bool(3) : type == 1 ? Dec(3) : type == 2 ? Int(3) : Hr(3);
      r += "  let v" + std::to_string(i) + " = " + e + "\n";
      names_[type].push_back("v" + std::to_string(i));
    }
    std::string used;
    for (int i = 0; i < lets; ++i) used += (i ? ", " : "") + std::string("{v") + std::to_string(i) + "}";
    r += "  when " + Bool(2) + " alert critical \"" + used + "\"\n";
    r += "  when " + Bool(2) + " alert medium \"m\"\n";
    if (b_.Coin()) r += "  suppress " + std::to_string(1 + b_.Next(6)) + "h\n";
    // Now and then a second rule reading f's lets as derived signals (`f.v0`), written
    // before or after f: the engine orders them, and late events, amendments and
    // corrections reach g through f's published values on both back ends.
    if (b_.Coin()) {
      std::string g = Reader(lets);
      r = b_.Coin() ? r + g : std::string(kSchema) + g + r.substr(std::string(kSchema).size());
    }
    return r;
  }

 private:
  std::string Window() { return std::to_string(1 + b_.Next(12)) + "h"; }
  std::string Ref(int type, const std::string& fallback) {
    auto& v = names_[type];
    if (v.empty() || !b_.Coin()) return fallback;
    return v[b_.Next(static_cast<uint32_t>(v.size()))];
  }
  // A quantity in /min (heart rate).
  std::string Hr(int depth) {
    switch (depth <= 0 ? b_.Next(2) : b_.Next(9)) {
      case 0: return std::to_string(b_.Next(200)) + " '/min'";
      case 1: {
        static const char* const kAggs[] = {"last", "first", "min", "max", "avg", "delta"};
        return std::string(kAggs[b_.Next(6)]) + "(hr within " + Window() + ")";
      }
      case 2: return "(" + Hr(depth - 1) + (b_.Coin() ? " + " : " - ") + Hr(depth - 1) + ")";
      case 3: return "(" + Hr(depth - 1) + " ?? " + Hr(depth - 1) + ")";
      case 4: return "(if " + Bool(depth - 1) + " then " + Hr(depth - 1) + " else " + Hr(depth - 1) + ")";
      case 5: return "(" + Hr(depth - 1) + " * " + Dec(depth - 1) + ")";
      case 6: return "abs(" + Hr(depth - 1) + ")";
      case 7: return Ref(3, "last(hr)");
      default: return "sum(hr within " + Window() + ")";
    }
  }
  std::string Dec(int depth) {
    switch (depth <= 0 ? b_.Next(2) : b_.Next(12)) {
      case 0: return std::to_string(b_.Next(50)) + "." + std::to_string(b_.Next(100));
      case 1: return "value_in(last(cr within " + Window() + "), 'mg/dL')";
      case 2: {
        static const char* const kOps[] = {" + ", " - ", " * ", " / ", " div ", " mod "};
        return "(" + Dec(depth - 1) + kOps[b_.Next(6)] + Dec(depth - 1) + ")";
      }
      case 3: return "(" + Dec(depth - 1) + " ?? " + Dec(depth - 1) + ")";
      case 4: return "round(" + Dec(depth - 1) + ", " + std::to_string(b_.Next(4)) + ")";
      case 5: return "(" + Hr(depth - 1) + " / " + Hr(depth - 1) + ")";
      case 6: return "value_in(slope(cr within " + Window() + "), 'mg/dL/h')";
      case 7: return "(" + Int(depth - 1) + " + 0.5)";
      case 8: return "(-" + Dec(depth - 1) + ")";
      case 9: return "avg(gcs within " + Window() + ")";
      case 10: return Ref(1, "1.5");
      default: return "(case when " + Bool(depth - 1) + " then " + Dec(depth - 1) + " else " + Dec(depth - 1) + " end)";
    }
  }
  std::string Int(int depth) {
    switch (depth <= 0 ? b_.Next(2) : b_.Next(11)) {
      case 0: return std::to_string(b_.Next(30));
      case 1: return "count(hr within " + Window() + ")";
      case 2: {
        static const char* const kOps[] = {" + ", " - ", " * ", " div ", " mod "};
        return "(" + Int(depth - 1) + kOps[b_.Next(5)] + Int(depth - 1) + ")";
      }
      case 3: return "last(gcs within " + Window() + ")";
      case 4: return "(" + Int(depth - 1) + " ?? " + Int(depth - 1) + ")";
      case 5: {
        std::string r = "bands last(hr within " + Window() + ") { <= 50: 3; > 50 and <= 90: 0; > 90 and <= 130: 1; > 130: 2; }";
        return b_.Coin() ? "(" + r + " ?? 0)" : r;
      }
      case 6: return "floor(" + Dec(depth - 1) + ")";
      case 7: return "(bands last(avpu within " + Window() + ") { 'alert': 0; else: 3; } ?? 0)";
      case 8: return "(if " + Bool(depth - 1) + " then 1 else 0)";
      case 9: return Ref(2, "max(gcs within 8h)");
      default: return "(2 ^ " + std::to_string(b_.Next(5)) + ")";
    }
  }
  std::string Bool(int depth) {
    switch (depth <= 0 ? b_.Next(3) : b_.Next(16)) {
      case 0: return b_.Coin() ? "true" : "false";
      case 1: return "last(o2 within " + Window() + ")";
      case 2: return "exists(abx within " + Window() + ")";
      case 3: {
        static const char* const kCmp[] = {" < ", " <= ", " > ", " >= ", " = ", " != ", " ~ ", " !~ "};
        return "(" + Hr(depth - 1) + kCmp[b_.Next(8)] + Hr(depth - 1) + ")";
      }
      case 4: return "(" + Dec(depth - 1) + (b_.Coin() ? " > " : " <= ") + Dec(depth - 1) + ")";
      case 5: return "(" + Int(depth - 1) + (b_.Coin() ? " = " : " >= ") + Int(depth - 1) + ")";
      case 6: {
        static const char* const kOps[] = {" and ", " or ", " xor ", " implies "};
        return "(" + Bool(depth - 1) + kOps[b_.Next(4)] + Bool(depth - 1) + ")";
      }
      case 7: return "(not " + Bool(depth - 1) + ")";
      case 8: return "(" + Hr(depth - 1) + (b_.Coin() ? " is null)" : " is not null)");
      case 9: return "(" + Bool(depth - 1) + (b_.Coin() ? " is true)" : " is false)");
      case 10: return "(no abx within " + Window() + ")";
      case 11: return "(abx then abx within " + Window() + ")";
      case 12: return "(hr > " + std::to_string(b_.Next(200)) + " '/min' for " + std::to_string(1 + b_.Next(3)) + "h)";
      case 13: return "(last(avpu within " + Window() + ") = 'voice')";
      case 14: return Ref(0, "true");
      default: return "(last(cr within 48h) >= " + std::to_string(b_.Next(5)) + ".0 'mg/dL')";
    }
  }

  // Rule g: lets over f's lets (each a derived signal of f's let type), and a `when`.
  std::string Reader(int f_lets) {
    std::string r = "rule g version \"1.0.0\"\n  title \"t\"\n  owner \"o\"\n  status draft\n  cites \"c\"\n  uses s\n";
    int lets = 1 + static_cast<int>(b_.Next(3));
    std::string when, used;
    for (int i = 0; i < lets; ++i) {
      int k = static_cast<int>(b_.Next(static_cast<uint32_t>(f_lets)));
      std::string sig = "f.v" + std::to_string(k);
      int type = 0;
      for (int t = 0; t < 4; ++t) {
        for (const auto& n : names_[t]) {
          if (n == "v" + std::to_string(k)) type = t;
        }
      }
      std::string w = "within " + Window();
      std::string e, test;
      switch (b_.Next(4)) {
        case 0: e = "exists(" + sig + " " + w + ")"; break;
        case 1: e = "(no " + sig + " " + w + ")"; break;
        case 2: e = "count(" + sig + " " + w + ")"; test = " >= 2"; break;
        default: {
          static const char* const kTests[] = {" is true", " > 1.5", " >= 3", " > 80 '/min'"};
          static const char* const kAggs[] = {"last", "max", "min", "last"};
          e = std::string(type == 0 ? "last" : kAggs[b_.Next(4)]) + "(" + sig + " " + w + ")";
          test = kTests[type];
        }
      }
      std::string name = "w" + std::to_string(i);
      r += "  let " + name + " = " + e + "\n";
      when += (i ? " or (" : "(") + name + test + ")";
      used += (i ? ", " : "") + std::string("{") + name + "}";
    }
    r += "  when " + when + " alert high \"" + used + "\"\n";
    return r;
  }

  Bytes& b_;
  std::vector<std::string> names_[4];
};

std::string Events(Bytes& b) {
  std::string out;
  int n = static_cast<int>(b.Next(40));
  int64_t t = 0;
  for (int i = 0; i < n && !b.Done(); ++i) {
    t += b.Next(4) * 1800;  // 0 to 1.5 h later, in seconds
    int64_t at = t - (b.Next(8) == 0 ? b.Next(30) * 3600 : 0);  // now and then late
    if (at < 0) at = 0;
    char when[32];
    std::snprintf(when, sizeof when, "2000-01-%02lldT%02lld:%02lld:00Z", static_cast<long long>(1 + at / 86400),
                  static_cast<long long>(at / 3600 % 24), static_cast<long long>(at / 60 % 60));
    std::string id = "e" + std::to_string(b.Next(12));  // repeated ids: replacements
    std::string patient = b.Coin() ? "p1" : "p2";
    std::string head = "{\"id\":\"" + id + "\",\"patient\":\"" + patient + "\",\"time\":\"" + when + "\",";
    std::string status;
    switch (b.Next(8)) {
      case 0: status = ",\"status\":\"amended\""; break;
      case 1: status = ",\"status\":\"entered-in-error\""; break;
      default: break;
    }
    switch (b.Next(8)) {
      case 0: out += head + "\"signal\":\"hr\",\"value\":" + std::to_string(b.Next(220)) + ",\"unit\":\"/min\"" + status + "}\n"; break;
      case 1: out += head + "\"signal\":\"cr\",\"value\":" + std::to_string(b.Next(500)) + ",\"unit\":\"umol/L\"" + status + "}\n"; break;
      case 2: out += head + "\"signal\":\"cr\",\"value\":" + std::to_string(b.Next(9)) + "." + std::to_string(b.Next(100)) + ",\"unit\":\"mg/dL\"" + status + "}\n"; break;
      case 3: out += head + "\"signal\":\"gcs\",\"value\":" + std::to_string(3 + b.Next(13)) + status + "}\n"; break;
      case 4: out += head + "\"signal\":\"o2\",\"value\":" + (b.Coin() ? "true" : "false") + status + "}\n"; break;
      case 5: {
        static const char* const kAvpu[] = {"alert", "voice", "pain"};
        out += head + "\"signal\":\"avpu\",\"value\":\"" + kAvpu[b.Next(3)] + "\"" + status + "}\n";
        break;
      }
      case 6: out += head + "\"signal\":\"abx\",\"value\":\"x\"" + status + "}\n"; break;
      default: out += b.Coin() ? "{\"id\":1}\n" : head + "\"signal\":\"hr\"}\n"; break;  // malformed
    }
  }
  return out;
}

struct Outputs {
  std::string alerts, trace, dead, late;
  bool operator!=(const Outputs& o) const { return alerts != o.alerts || trace != o.trace || dead != o.dead || late != o.late; }
};

Outputs Run(const cdr::ir::Module& m, const std::string& events, cdr::runtime::EngineOptions options) {
  std::istringstream in(events);
  std::ostringstream alerts, trace, dead, late;
  cdr::runtime::JsonLinesSink sink({&alerts, &trace, &dead, &late});
  cdr::runtime::RunFileHost(m, in, {&sink, {}, {}, {}}, options);
  return {alerts.str(), trace.str(), dead.str(), late.str()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes b(data, size);
  RuleGen gen(b);
  std::string rule = gen.Rule();
  int opt = b.Coin() ? 2 : 0;
  int switch_at = static_cast<int>(b.Next(20));
  std::string events = Events(b);
  cdr::driver::Frontend fe;
  fe.AddText("fuzz.cdr", rule);
  fe.Check();
  if (!fe.Lower()) {  // the generator wrote something the checker refuses: not a finding
    if (std::getenv("CDR_FUZZ_VERBOSE")) std::fprintf(stderr, "refused:\n%s\n%s\n", rule.c_str(), cdr::diag::FormatText(fe.diags).c_str());
    return 0;
  }
  if (std::getenv("CDR_FUZZ_VERBOSE")) std::fprintf(stderr, "accepted:\n%s\n", rule.c_str());
  std::vector<std::vector<cdr::runtime::NativeBlock>> native;
  if (auto err = cdr::jit::CompileModule(fe.module, opt, native, nullptr, /*use_cache=*/false)) {
    std::fprintf(stderr, "%s\n%s\n", rule.c_str(), err->c_str());
    cdr::fuzz::Fail("the JIT refused a rule the interpreter runs");
  }
  cdr::runtime::EngineOptions base;
  base.allowed_lateness_ms = 6LL * 3600 * 1000;
  Outputs interp = Run(fe.module, events, base);
  cdr::runtime::EngineOptions jit = base;
  jit.native = native;
  cdr::runtime::EngineOptions adaptive = base;
  int asked = 0;
  adaptive.take_native = [&](std::vector<std::vector<cdr::runtime::NativeBlock>>& out) {
    if (asked++ < switch_at) return false;
    out = native;
    return true;
  };
  for (const auto& [name, outputs] : {std::pair{"jit", Run(fe.module, events, jit)}, std::pair{"adaptive", Run(fe.module, events, adaptive)}}) {
    if (outputs != interp) {
      std::fprintf(stderr, "rule:\n%s\nevents:\n%s\ninterpreter alerts:\n%s\n%s alerts:\n%s\ninterpreter trace:\n%s\n%s trace:\n%s\n",
                   rule.c_str(), events.c_str(), interp.alerts.c_str(), name, outputs.alerts.c_str(), interp.trace.c_str(),
                   name, outputs.trace.c_str());
      cdr::fuzz::Fail("the interpreter and the JIT differ");
    }
  }
  return 0;
}
