// tests/conformance/conformance_runner.cpp: runs the HL7 CQL conformance suite
// (cqframework/cql-tests) against cdr's expression core, reading the suite's XML files
// directly. Each test's expression is compiled and evaluated in-process as by
// `cdr eval`; its expected output, a CQL literal, is evaluated the same way and the two
// values are compared with the suite's equality: same type, equal values (quantities
// after unit conversion), null equals null. A test whose expression is marked invalid
// passes when cdr refuses it with an error. Every test also runs on the JIT, and fails
// unless both back ends give the same result. Tests listed in exclusions.txt (constructs
// the language does not have) are skipped and counted as such.
//
// Usage: cdr_conformance [--suite DIR] [--exclusions FILE] [--baseline FILE]
//                        [--write-baseline FILE] [--report FILE] [--verbose]
// Exit 1 when a test named in the baseline does not pass (a regression), else 0.
#include <tinyxml2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/driver/eval.h"
#include "stdlib/units.h"

namespace {

namespace fs = std::filesystem;
using cdr::driver::EvalResult;

struct Counts {
  int pass = 0, fail = 0, skip = 0;
};

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::map<std::string, std::string> ReadExclusions(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    out[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
  }
  return out;
}

std::set<std::string> ReadNames(const std::string& path) {
  std::set<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') out.insert(line);
  }
  return out;
}

// The suite's equality for a test's result and its expected value.
bool Same(const EvalResult& got, const EvalResult& want, std::string& why) {
  if (!want.known || !got.known) {
    if (want.known == got.known) return true;
    why = want.known ? "got null" : "expected null";
    return false;
  }
  // CQL converts a Decimal to a Quantity of unit '1' where a quantity is expected.
  auto unitless = [](const EvalResult& r) { return r.type == EvalResult::Type::Quantity && r.unit == "1"; };
  if ((got.type == EvalResult::Type::Decimal && unitless(want)) || (unitless(got) && want.type == EvalResult::Type::Decimal)) {
    return got.raw == want.raw;
  }
  if (got.type != want.type) {
    why = "a value of another type";
    return false;
  }
  if (got.type == EvalResult::Type::Text) return got.text == want.text;
  if (got.type == EvalResult::Type::Quantity && got.unit != want.unit) {
    auto a = cdr::stdlib::ParseUnit(got.unit), b = cdr::stdlib::ParseUnit(want.unit);
    if (!a || !b || !a->CommensurableWith(*b)) {
      why = "another unit";
      return false;
    }
    auto converted = cdr::stdlib::Convert(cdr::stdlib::Decimal::FromRaw(got.raw), *a, *b);
    return converted && converted->raw() == want.raw;
  }
  return got.raw == want.raw;
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite = std::string(CDR_SOURCE_DIR) + "/../shared/data/cql-tests/tests/cql";
  std::string exclusions_path = std::string(CDR_SOURCE_DIR) + "/tests/conformance/exclusions.txt";
  std::string baseline_path, write_baseline, report_path;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "cdr_conformance: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--suite") suite = next();
    else if (a == "--exclusions") exclusions_path = next();
    else if (a == "--baseline") baseline_path = next();
    else if (a == "--write-baseline") write_baseline = next();
    else if (a == "--report") report_path = next();
    else if (a == "--verbose" || a == "-v") verbose = true;
    else {
      std::cerr << "usage: cdr_conformance [--suite DIR] [--exclusions FILE] [--baseline FILE] "
                   "[--write-baseline FILE] [--report FILE] [--verbose]\n";
      return 2;
    }
  }
  std::error_code ec;
  if (!fs::is_directory(suite, ec)) {
    std::cerr << "cdr_conformance: no suite at " << suite << "\n";
    return 2;
  }
  auto exclusions = ReadExclusions(exclusions_path);
  std::set<std::string> baseline = baseline_path.empty() ? std::set<std::string>{} : ReadNames(baseline_path);

  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(suite)) {
    if (entry.path().extension() == ".xml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, Counts> by_file;
  std::map<std::string, Counts> by_group;
  std::set<std::string> passed;
  std::vector<std::string> failures;
  std::set<std::string> seen;
  for (const auto& path : files) {
    tinyxml2::XMLDocument doc;
    if (doc.LoadFile(path.c_str()) != tinyxml2::XML_SUCCESS) {
      std::cerr << "cdr_conformance: cannot read " << path << ": " << doc.ErrorStr() << "\n";
      return 2;
    }
    std::string file = fs::path(path).stem().string();
    const tinyxml2::XMLElement* root = doc.FirstChildElement("tests");
    for (auto* group = root ? root->FirstChildElement("group") : nullptr; group; group = group->NextSiblingElement("group")) {
      std::string gname = group->Attribute("name") ? group->Attribute("name") : "";
      for (auto* test = group->FirstChildElement("test"); test; test = test->NextSiblingElement("test")) {
        std::string key = file + "/" + gname + "/" + (test->Attribute("name") ? test->Attribute("name") : "");
        seen.insert(key);
        Counts& fc = by_file[file];
        Counts& gc = by_group[file + "/" + gname];
        if (exclusions.count(key)) {
          ++fc.skip;
          ++gc.skip;
          continue;
        }
        const tinyxml2::XMLElement* expr = test->FirstChildElement("expression");
        std::string text = expr && expr->GetText() ? Trim(expr->GetText()) : "";
        const char* invalid = expr ? expr->Attribute("invalid") : nullptr;
        bool expect_error = invalid && std::string(invalid) != "false";
        const tinyxml2::XMLElement* output = test->FirstChildElement("output");
        std::string expected = output && output->GetText() ? Trim(output->GetText()) : "";

        cdr::driver::Frontend fe;
        auto got = cdr::driver::Evaluate(fe, "<expression>", text);
        bool ok = false;
        std::string detail;
        // Both back ends: the JIT must give exactly what the interpreter gives.
        auto native = cdr::driver::EvaluateNative(fe);
        bool backends_agree = got.has_value() == native.has_value() &&
                              (!got || (got->type == native->type && got->known == native->known &&
                                        got->raw == native->raw && got->unit == native->unit && got->text == native->text));
        if (expect_error) {
          ok = !got.has_value();
          detail = got ? "expected an error; got " + cdr::driver::CqlLiteral(*got) : "";
        } else if (!got) {
          detail = "refused: " + (fe.diags.diagnostics().empty() ? std::string("?") : fe.diags.diagnostics()[0].message);
        } else {
          cdr::driver::Frontend fe2;
          auto want = cdr::driver::Evaluate(fe2, "<output>", expected);
          if (!want) {
            detail = "the expected output `" + expected + "` is not a literal cdr reads";
          } else {
            std::string why;
            ok = Same(*got, *want, why);
            if (!ok) detail = "got " + cdr::driver::CqlLiteral(*got) + ", expected " + expected + (why.empty() ? "" : " (" + why + ")");
          }
        }
        if (!backends_agree) {
          ok = false;
          detail = "the JIT gives " + (native ? cdr::driver::CqlLiteral(*native) : std::string("an error")) +
                   ", the interpreter " + (got ? cdr::driver::CqlLiteral(*got) : std::string("an error"));
        }
        if (ok) {
          ++fc.pass;
          ++gc.pass;
          passed.insert(key);
        } else {
          ++fc.fail;
          ++gc.fail;
          failures.push_back(key + ": `" + text + "`: " + detail);
        }
      }
    }
  }

  // Summary per file.
  std::ostringstream table;
  table << "| file | passed | failed | skipped | pass rate |\n| --- | ---: | ---: | ---: | ---: |\n";
  Counts total;
  for (const auto& [file, c] : by_file) {
    int run = c.pass + c.fail;
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f%%", run ? 100.0 * c.pass / run : 0.0);
    table << "| " << file << " | " << c.pass << " | " << c.fail << " | " << c.skip << " | " << (run ? rate : "-") << " |\n";
    total.pass += c.pass;
    total.fail += c.fail;
    total.skip += c.skip;
  }
  table << "| total | " << total.pass << " | " << total.fail << " | " << total.skip << " | |\n";
  std::cout << table.str();
  if (verbose) {
    for (const auto& f : failures) std::cout << "FAIL " << f << "\n";
  }
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    out << table.str() << "\n";
    out << "| group | passed | failed | skipped |\n| --- | ---: | ---: | ---: |\n";
    for (const auto& [g, c] : by_group) out << "| " << g << " | " << c.pass << " | " << c.fail << " | " << c.skip << " |\n";
    out << "\nFailures:\n\n";
    for (const auto& f : failures) out << "- " << f << "\n";
  }
  int status = 0;
  for (const auto& name : exclusions) {
    if (!seen.count(name.first)) {
      std::cerr << "cdr_conformance: excluded test not in the suite: " << name.first << "\n";
      status = 1;
    }
  }
  for (const auto& name : baseline) {
    if (!passed.count(name)) {
      std::cerr << "REGRESSION " << name << " passed before and does not now\n";
      status = 1;
    }
  }
  if (!write_baseline.empty()) {
    std::ofstream out(write_baseline);
    out << "# tests/conformance/baseline.txt: the conformance tests that pass; CI fails when one stops passing.\n";
    out << "# Regenerate with: build/bin/cdr_conformance --write-baseline tests/conformance/baseline.txt\n";
    for (const auto& name : passed) out << name << "\n";
  }
  return status;
}
