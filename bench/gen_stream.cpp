// bench/gen_stream.cpp: a synthetic ICU event stream for benchmarks, in the NDJSON event
// format, in time order: each patient has an hourly vitals panel (HR, RR, temperature,
// systolic BP, SpO2) and a lab panel every 6 hours (creatinine, potassium, lactate, WBC,
// glucose), with values on a per-patient random walk so that some patients deteriorate
// and alert. Deterministic for a given seed.
// Usage: cdr_gen_stream PATIENTS EVENTS [SEED] > events.ndjson
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Signal {
  const char* loinc;
  const char* unit;
  double base, step, lo, hi;
  int decimals;
};

constexpr Signal kVitals[] = {{"8867-4", "/min", 85, 6, 30, 200, 0},
                              {"9279-1", "/min", 18, 2, 6, 45, 0},
                              {"8310-5", "Cel", 37.0, 0.3, 34.0, 41.0, 1},
                              {"8480-6", "mm[Hg]", 120, 8, 60, 220, 0},
                              {"59408-5", "%", 96, 1.5, 80, 100, 0}};
constexpr Signal kLabs[] = {{"2160-0", "mg/dL", 1.0, 0.2, 0.3, 8.0, 2},
                            {"2823-3", "mmol/L", 4.2, 0.3, 2.5, 7.5, 1},
                            {"2524-7", "mmol/L", 1.5, 0.6, 0.4, 12.0, 1},
                            {"6690-2", "10*3/uL", 9.0, 1.5, 1.0, 30.0, 1},
                            {"2345-7", "mg/dL", 120, 20, 40, 400, 0}};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PATIENTS EVENTS [SEED]\n", argv[0]);
    return 2;
  }
  const long patients = std::atol(argv[1]);
  const long events = std::atol(argv[2]);
  std::mt19937_64 rng(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1);
  std::normal_distribution<double> noise(0.0, 1.0);
  const int nv = sizeof(kVitals) / sizeof(kVitals[0]), nl = sizeof(kLabs) / sizeof(kLabs[0]);
  std::vector<double> state(static_cast<size_t>(patients) * (nv + nl));
  for (long p = 0; p < patients; ++p) {
    for (int s = 0; s < nv; ++s) state[static_cast<size_t>(p * (nv + nl) + s)] = kVitals[s].base;
    for (int s = 0; s < nl; ++s) state[static_cast<size_t>(p * (nv + nl) + nv + s)] = kLabs[s].base;
  }
  long written = 0;
  const long long epoch = 946684800;  // 2000-01-01T00:00:00Z
  std::vector<char> line(512);
  // In time order: each hour, the patients whose panel falls in minute 0, then minute 1,
  // and so on (patient p at minute p % 60). Before, the patients were written in their
  // own order, so each hour's times cycled through the minutes once per 60 patients:
  // events up to 59 minutes late, and timer points due before their panel arrived.
  for (long hour = 0; written < events; ++hour) {
    for (long slot = 0; slot < 60 * ((patients + 59) / 60) && written < events; ++slot) {
      const long p = slot % ((patients + 59) / 60) * 60 + slot / ((patients + 59) / 60);  // minute-major
      if (p >= patients) continue;
      long long t = epoch + hour * 3600 + (p % 60) * 60;  // patients spread over the hour
      long long days = t / 86400, rem = t % 86400;
      // 2000-01-01 + days (simple: within 2000-2001 for any realistic run)
      static const int kMonthDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int year = 2000, month = 0, day = static_cast<int>(days - 10957);
      while (day >= (year % 4 == 0 ? 366 : 365)) {
        day -= year % 4 == 0 ? 366 : 365;
        ++year;
      }
      while (day >= kMonthDays[month] - (month == 1 && year % 4 != 0 ? 1 : 0)) {
        day -= kMonthDays[month] - (month == 1 && year % 4 != 0 ? 1 : 0);
        ++month;
      }
      char when[64];
      std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02lld:%02lld:00Z", year, month + 1, day + 1, rem / 3600,
                    rem / 60 % 60);
      auto emit = [&](const Signal& s, double& v, int k) {
        v += s.step * noise(rng) * 0.5 + (s.base - v) * 0.05;
        if (v < s.lo) v = s.lo;
        if (v > s.hi) v = s.hi;
        int n = std::snprintf(line.data(), line.size(),
                              "{\"id\":\"p%ld/%ld/%d\",\"patient\":\"p%ld\",\"time\":\"%s\",\"code\":{\"system\":"
                              "\"http://loinc.org\",\"code\":\"%s\"},\"value\":%.*f,\"unit\":\"%s\"}\n",
                              p, hour, k, p, when, s.loinc, s.decimals, v, s.unit);
        std::fwrite(line.data(), 1, static_cast<size_t>(n), stdout);
        ++written;
      };
      for (int s = 0; s < nv && written < events; ++s) emit(kVitals[s], state[static_cast<size_t>(p * (nv + nl) + s)], s);
      if (hour % 6 == static_cast<long>(p % 6)) {
        for (int s = 0; s < nl && written < events; ++s) {
          emit(kLabs[s], state[static_cast<size_t>(p * (nv + nl) + nv + s)], nv + s);
        }
      }
    }
  }
  return 0;
}
