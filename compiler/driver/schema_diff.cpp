// compiler/driver/schema_diff.cpp: the changes between two versions of the schemas.
#include "compiler/driver/schema_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "stdlib/decimal.h"
#include "stdlib/units.h"

namespace cdr::driver {

namespace {

using ir::SignalType;
using stdlib::Decimal;

std::string TypeName(const ir::Signal& s) {
  switch (s.type) {
    case SignalType::Quantity: return "quantity '" + s.unit + "'";
    case SignalType::Boolean: return "boolean";
    case SignalType::Integer: return "integer";
    case SignalType::Decimal: return "decimal";
    case SignalType::Text: return "text";
    case SignalType::Code: return "code";
    case SignalType::Enum: return "enum";
    case SignalType::Event: return "event";
  }
  return "?";
}

// `loinc "8310-5"`, as a schema writes a code: one text per code.
std::vector<std::string> CodeTexts(const std::vector<ir::Code>& codes) {
  std::vector<std::string> out;
  for (const ir::Code& c : codes) out.push_back(c.system + " \"" + c.code + "\"");
  return out;
}

std::vector<std::string> Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) out.push_back("'" + n + "'");
  return out;
}

// A plausible bound as a decimal in the signal's unit.
Decimal BoundOf(const ir::Signal& s, int64_t raw) {
  return s.type == SignalType::Integer ? Decimal::FromRaw(raw * Decimal::kOne) : Decimal::FromRaw(raw);
}

std::string Join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<SchemaChange> DiffSchemas(const ir::Module& before, const ir::Module& after) {
  auto schema_signal = [](const ir::Signal& s) { return !s.derived() && !s.response; };
  std::vector<std::set<std::string>> readers(before.signals.size());
  for (const ir::Rule& r : before.rules) {
    for (const ir::SignalSlot& slot : r.slots) {
      if (slot.signal >= 0) readers[static_cast<size_t>(slot.signal)].insert(r.id);
    }
  }
  std::map<std::string, const ir::Signal*> after_by_key;
  for (const ir::Signal& s : after.signals) {
    if (schema_signal(s)) after_by_key.emplace(s.schema + "." + s.name, &s);
  }
  std::vector<SchemaChange> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < before.signals.size(); ++i) {
    const ir::Signal& s = before.signals[i];
    if (!schema_signal(s)) continue;
    const std::string key = s.schema + "." + s.name;
    seen.insert(key);
    // `takes`: the change takes events or values from the signal; it breaks the rules
    // that read it.
    auto add = [&](bool takes, std::string what) {
      const bool breaking = takes && !readers[i].empty();
      if (breaking) what += " (read by " + Join(readers[i]) + ")";
      out.push_back(SchemaChange{breaking, key, what});
    };
    auto it = after_by_key.find(key);
    if (it == after_by_key.end()) {
      add(true, "removed");
      continue;
    }
    const ir::Signal& n = *it->second;
    if (s.type != n.type) {
      add(true, "type " + TypeName(s) + " -> " + TypeName(n));
      continue;
    }
    if (s.kind != n.kind) {
      // Its codes now map other records (orders rather than administrations): another
      // meaning under the same name.
      add(true, "records `from " + (s.kind.empty() ? std::string("(observations)") : s.kind) + "` -> `from " +
                    (n.kind.empty() ? std::string("(observations)") : n.kind) + "`: its codes map other records");
      continue;
    }
    std::optional<stdlib::Unit> from, to;
    if (s.type == SignalType::Quantity && s.unit != n.unit) {
      from = stdlib::ParseUnit(s.unit);
      to = stdlib::ParseUnit(n.unit);
      if (!from || !to || !from->CommensurableWith(*to)) {
        add(true, "unit '" + s.unit + "' -> '" + n.unit + "', another dimension");
        continue;
      }
      // Events are converted, but a band row's bare numbers are in the signal's unit: a
      // rule reading the signal would score other values.
      add(true, "unit '" + s.unit + "' -> '" + n.unit + "': events are converted, but bare numbers in the bands of "
                "the rules that read it are in the signal's unit");
    }
    // What maps an event to the signal or gives it a value: one removed takes its events.
    auto entries = [&](const std::string& what, const std::vector<std::string>& old_list,
                       const std::vector<std::string>& new_list) {
      auto in = [](const std::vector<std::string>& list, const std::string& x) {
        return std::find(list.begin(), list.end(), x) != list.end();
      };
      for (const std::string& x : old_list) {
        if (!in(new_list, x)) add(true, what + " " + x + " removed: its events go to the dead letter");
      }
      for (const std::string& x : new_list) {
        if (!in(old_list, x)) add(false, what + " " + x + " added");
      }
    };
    entries("code", CodeTexts(s.codes), CodeTexts(n.codes));
    entries("value set code", CodeTexts(s.valueset_codes), CodeTexts(n.valueset_codes));
    entries("member", Quoted(s.members), Quoted(n.members));
    for (const ir::UnitConversion& c : s.conversions) {
      auto same = std::find_if(n.conversions.begin(), n.conversions.end(),
                               [&](const ir::UnitConversion& x) { return x.unit == c.unit; });
      if (same == n.conversions.end()) {
        add(true, "convert '" + c.unit + "' removed: events in '" + c.unit + "' go to the dead letter");
      } else if (same->to_canonical.num != c.to_canonical.num || same->to_canonical.den != c.to_canonical.den) {
        add(true, "convert '" + c.unit + "' has another factor: values in '" + c.unit + "' change");
      }
    }
    for (const ir::UnitConversion& c : n.conversions) {
      if (std::none_of(s.conversions.begin(), s.conversions.end(), [&](const ir::UnitConversion& x) { return x.unit == c.unit; })) {
        add(false, "convert '" + c.unit + "' added");
      }
    }
    // Plausible ranges, compared in the new unit.
    auto range = [](const ir::Signal& x, Decimal lo, Decimal hi) {
      return lo.ToShortString() + " .. " + hi.ToShortString() + (x.unit.empty() || x.unit == "1" ? "" : " " + x.unit);
    };
    if (n.has_plausible) {
      Decimal nlo = BoundOf(n, n.plausible_low), nhi = BoundOf(n, n.plausible_high);
      if (!s.has_plausible) {
        add(true, "plausible range " + range(n, nlo, nhi) + " added: values outside go to the dead letter");
      } else {
        const Decimal olo = BoundOf(s, s.plausible_low), ohi = BoundOf(s, s.plausible_high);
        std::optional<Decimal> slo = olo, shi = ohi;  // in the new unit
        if (from && to) {
          slo = stdlib::Convert(olo, *from, *to);
          shi = stdlib::Convert(ohi, *from, *to);
        }
        const std::string change = "plausible range " + range(s, olo, ohi) + " -> " + range(n, nlo, nhi);
        if (!slo || !shi || nlo > *slo || nhi < *shi) {
          add(true, change + ", narrower: values outside go to the dead letter");
        } else if (nlo != *slo || nhi != *shi) {
          add(false, change + ", wider");
        }
      }
      if (s.has_plausible && s.keep_implausible && !n.keep_implausible) {
        add(true, "values outside the plausible range were kept, now go to the dead letter");
      }
    } else if (s.has_plausible) {
      add(false, "plausible range removed");
    }
  }
  for (const ir::Signal& n : after.signals) {
    if (schema_signal(n) && !seen.count(n.schema + "." + n.name)) {
      out.push_back(SchemaChange{false, n.schema + "." + n.name, "added"});
    }
  }
  return out;
}

// ---- `cdr schema diff OLD NEW` ----------------------------------------------------------

namespace {

// Each schema's version as declared (unquoted), by name.
std::map<std::string, std::string> Versions(const Frontend& fe) {
  std::map<std::string, std::string> out;
  for (const ast::File& f : fe.files) {
    for (const auto& d : f.decls) {
      if (d.schema) out[d.schema->name] = d.schema->version.empty() ? "" : ast::Unquote(d.schema->version);
    }
  }
  return out;
}

std::string Major(const std::string& version) { return version.substr(0, version.find('.')); }

}  // namespace

int SchemaDiff(const std::string& before_path, const std::string& after_path) {
  Frontend before, after;
  for (auto [fe, path] : {std::pair{&before, &before_path}, std::pair{&after, &after_path}}) {
    if (int status = CompileOrReport(*fe, {*path}, "cdr schema diff"); status != kOk) {
      if (status == kFailed) std::cerr << "cdr schema diff: cannot compare: " << *path << " has errors\n";
      return kUsage;
    }
  }
  const auto changes = DiffSchemas(before.module, after.module);
  const auto old_versions = Versions(before), new_versions = Versions(after);
  std::set<std::string> broken_schemas;
  size_t breaking = 0;
  for (const SchemaChange& c : changes) {
    std::cout << (c.breaking ? "breaking  " : "change    ") << c.signal << ": " << c.what << "\n";
    if (c.breaking) {
      ++breaking;
      broken_schemas.insert(c.signal.substr(0, c.signal.find('.')));
    }
  }
  for (const auto& [name, version] : old_versions) {
    auto it = new_versions.find(name);
    if (it == new_versions.end()) {
      std::cout << "schema " << name << ": removed\n";
      continue;
    }
    if (it->second != version) std::cout << "schema " << name << ": version " << version << " -> " << it->second << "\n";
    if (broken_schemas.count(name) && Major(it->second) == Major(version)) {
      std::cout << "schema " << name << ": breaking changes without a new major version (" << version << " -> "
                << it->second << ")\n";
    }
  }
  for (const auto& [name, version] : new_versions) {
    if (!old_versions.count(name)) std::cout << "schema " << name << ": added, version " << version << "\n";
  }
  std::cerr << fmt::format("cdr schema diff: {} breaking changes, {} other changes\n", breaking, changes.size() - breaking);
  return breaking ? kFailed : kOk;
}

}  // namespace cdr::driver
