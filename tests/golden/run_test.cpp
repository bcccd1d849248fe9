// tests/golden/run_test.cpp: golden run tests. Each folder tests/golden/run/NAME holds
// `rules.cdr` (rules and their schemas), `events.ndjson` (in arrival order; or the
// records of an input format in `events.FORMAT`, such as `events.hl7v2`, with what the
// format makes of them in `translated.expected`), optionally
// `options` (`allowed-lateness=2h`, `emit=eager`, `max-ahead=off`, `max-clock-skew=10min`),
// and the expected outputs `alerts.expected`,
// `trace.expected`, `dead-letter.expected`, `late.expected`. The expectations were
// checked by hand against the definitions in docs/semantics.md; the comments in each
// rules.cdr say what each event is for. CDR_UPDATE_GOLDEN=1 rewrites them (review the diff).
// Every case runs on the interpreter, on the JIT at -O0 and -O2, and adaptively, against
// the same expected files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/driver/commands.h"
#include "compiler/driver/frontend.h"
#include "compiler/jit/jit.h"
#include "runtime/file_host.h"
#include "runtime/json_sink.h"
#include "tests/golden/golden_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDir = fs::path(CDR_SOURCE_DIR) / "tests" / "golden" / "run";

using cdr::golden::ReadAll;

std::vector<std::string> Cases() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kDir)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

const std::vector<std::string> kEngines = {"interp", "jit_O0", "jit_O2", "adaptive"};

class GoldenRun : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GoldenRun, OutputsMatch) {
  const auto& [name, engine] = GetParam();
  fs::path dir = kDir / name;
  cdr::driver::Frontend fe;
  fe.AddText("rules.cdr", ReadAll(dir / "rules.cdr"));
  fe.Check();
  ASSERT_TRUE(fe.Lower()) << cdr::diag::FormatText(fe.diags);
  cdr::runtime::EngineOptions options;
  std::istringstream opts(fs::exists(dir / "options") ? ReadAll(dir / "options") : "");
  std::string word;
  while (opts >> word) {
    if (word.rfind("allowed-lateness=", 0) == 0) {
      auto ms = cdr::driver::ParseDurationMs(word.substr(17));
      ASSERT_TRUE(ms) << word;
      options.allowed_lateness_ms = *ms;
    } else if (word.rfind("max-ahead=", 0) == 0 || word.rfind("max-clock-skew=", 0) == 0) {
      std::string value = word.substr(word.find('=') + 1);
      auto ms = value == "off" ? std::optional<int64_t>(-1) : cdr::driver::ParseDurationMs(value);
      ASSERT_TRUE(ms) << word;
      (word[4] == 'a' ? options.clock.max_ahead_ms : options.clock.max_clock_skew_ms) = *ms;
    } else if (word == "emit=eager" || word == "emit=settled") {
      options.emit = word == "emit=eager" ? cdr::runtime::Emit::Eager : cdr::runtime::Emit::Settled;
    } else {
      FAIL() << "unknown option " << word;
    }
  }
  if (engine != "interp") {
    std::vector<std::vector<cdr::runtime::NativeBlock>> code;
    auto err = cdr::jit::CompileModule(fe.module, engine == "jit_O0" ? 0 : 2, code);
    ASSERT_FALSE(err) << *err;
    if (engine == "adaptive") {
      // Native code takes over after the first event: part of the run on each back end.
      int asked = 0;
      options.take_native = [code, asked](std::vector<std::vector<cdr::runtime::NativeBlock>>& out) mutable {
        if (++asked < 2) return false;
        out = code;
        return true;
      };
    } else {
      options.native = code;
    }
  }
  // The input: events.ndjson, or the records of an input format in events.FORMAT
  // (events.hl7v2, events.fhir).
  std::string format_name = "ndjson";
  for (std::string_view name : cdr::runtime::InputFormatNames()) {
    if (fs::exists(dir / ("events." + std::string(name)))) format_name = name;
  }
  const fs::path input = dir / ("events." + format_name);
  std::ifstream events(input, std::ios::binary);
  ASSERT_TRUE(events) << "missing events.ndjson (or events.FORMAT)";
  std::string error;
  std::unique_ptr<cdr::runtime::InputFormat> format = cdr::runtime::MakeInputFormat(format_name, {}, error);
  if (format) {
    // What the format makes of the records (`cdr import`), before the schemas read it.
    std::ostringstream translated;
    cdr::driver::ImportRecords(*format, events, input.filename().string(), translated);
    cdr::golden::ExpectMatchesFile(dir / "translated.expected", translated.str());
    events.clear();
    events.seekg(0);
  }
  std::ostringstream alerts, trace, dead, late;
  cdr::runtime::JsonLinesSink sink({&alerts, &trace, &dead, &late});
  cdr::runtime::FileHost host(fe.module, {&sink, {}, {}, {}}, options);
  host.SetFormat(std::move(format));
  auto stats = host.Run(cdr::runtime::StreamSource(events));
  EXPECT_EQ(stats.read, stats.used + stats.dead_lettered + stats.late) << "counters must add up";

  const std::pair<const char*, std::string> outputs[] = {
      {"alerts.expected", alerts.str()}, {"trace.expected", trace.str()},
      {"dead-letter.expected", dead.str()}, {"late.expected", late.str()}};
  for (const auto& [file, actual] : outputs) cdr::golden::ExpectMatchesFile(dir / file, actual);
}

INSTANTIATE_TEST_SUITE_P(Run, GoldenRun, ::testing::Combine(::testing::ValuesIn(Cases()), ::testing::ValuesIn(kEngines)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
