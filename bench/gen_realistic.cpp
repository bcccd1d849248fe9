// bench/gen_realistic.cpp: a realistic event stream for benchmarks, from real ICU stays.
// Reads the events `cdr import physionet2019 DIR` wrote (the PhysioNet/CinC 2019 stays,
// each starting at 2000-01-01T00:00:00Z) and writes PATIENTS patients over DAYS days: each
// a copy of one stay (chosen at random) under a new id, admitted at a random time, all
// merged in time order as a live feed delivers them. A stay keeps its own measurements,
// gaps and length (a few hours to weeks); the census is what admissions spread over the
// days make of it, not every stay at once. Admission hours follow a day's rhythm: an
// assumed shape (not a measured census), twice as many admissions between 10:00 and 22:00
// as between 0:00 and 6:00. Deterministic for a given seed.
// Usage: cdr_gen_realistic IMPORTED.ndjson PATIENTS DAYS [SEED] > events.ndjson
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "stdlib/time.h"

namespace {

// One event of a stay: its offsets from the stay's first event (ms), the id's part after
// the patient, and the line after `recorded` (code, value, unit).
struct Event {
  int64_t time = 0, recorded = 0;
  std::string id_suffix, rest;
};

// The value of "KEY":"VALUE" in an imported line, and where it ends (after the closing quote).
bool Field(const std::string& line, const char* key, size_t from, std::string& value, size_t& end) {
  std::string k = std::string("\"") + key + "\":\"";
  size_t at = line.find(k, from);
  if (at == std::string::npos) return false;
  size_t start = at + k.size();
  size_t close = line.find('"', start);
  if (close == std::string::npos) return false;
  value = line.substr(start, close - start);
  end = close + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s IMPORTED.ndjson PATIENTS DAYS [SEED] > events.ndjson\n", argv[0]);
    return 2;
  }
  const long patients = std::atol(argv[2]);
  const long days = std::atol(argv[3]);
  if (patients <= 0 || days <= 0) {
    std::fprintf(stderr, "gen_realistic: PATIENTS and DAYS must be positive\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "gen_realistic: cannot read %s\n", argv[1]);
    return 2;
  }
  // The stays, in the order of their first event.
  std::map<std::string, size_t> index;
  std::vector<std::vector<Event>> stays;
  std::string line;
  long lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string id, patient, time, recorded;
    size_t end = 0;
    Event e;
    if (!Field(line, "id", 0, id, end) || !Field(line, "patient", end, patient, end) ||
        !Field(line, "time", end, time, end) || !Field(line, "recorded", end, recorded, end) ||
        id.compare(0, patient.size() + 1, patient + "/") != 0) {
      std::fprintf(stderr, "gen_realistic: %s:%ld: not an event line of `cdr import physionet2019`\n", argv[1], lineno);
      return 2;
    }
    auto t = cdr::stdlib::ParseTime(time), r = cdr::stdlib::ParseTime(recorded);
    if (!t || !r) {
      std::fprintf(stderr, "gen_realistic: %s:%ld: a time that is not RFC 3339\n", argv[1], lineno);
      return 2;
    }
    e.time = *t;
    e.recorded = *r;
    e.id_suffix = id.substr(patient.size());
    e.rest = line.substr(end);
    auto [it, added] = index.emplace(patient, stays.size());
    if (added) stays.emplace_back();
    stays[it->second].push_back(std::move(e));
  }
  if (stays.empty()) {
    std::fprintf(stderr, "gen_realistic: no events in %s\n", argv[1]);
    return 2;
  }
  for (auto& stay : stays) {
    int64_t first = stay.front().time;
    for (auto& e : stay) {
      e.time -= first;
      e.recorded -= first;
    }
  }

  // Admissions: a day at random, an hour by the day's rhythm, a second at random.
  std::mt19937_64 rng(argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1);
  const std::vector<double> hour_weight = {1, 1, 1, 1, 1, 1, 1.3, 1.6, 1.8, 1.9, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1.6, 1.2};
  std::discrete_distribution<int> hour(hour_weight.begin(), hour_weight.end());
  std::uniform_int_distribution<long> day(0, days - 1), second(0, 3599);
  std::uniform_int_distribution<size_t> which(0, stays.size() - 1);
  const int64_t epoch = 1704067200000;  // 2024-01-01T00:00:00Z
  struct Patient {
    int64_t admitted;
    size_t stay;
  };
  std::vector<Patient> admitted(static_cast<size_t>(patients));
  for (auto& p : admitted) {
    p.admitted = epoch + (day(rng) * 86400 + hour(rng) * 3600 + second(rng)) * 1000;
    p.stay = which(rng);
  }

  // Merge in time order: a heap of each patient's next event (ties in patient order).
  struct Next {
    int64_t time;
    long patient;
    size_t event;
    bool operator>(const Next& o) const { return time != o.time ? time > o.time : patient > o.patient; }
  };
  std::priority_queue<Next, std::vector<Next>, std::greater<>> heap;
  for (long p = 0; p < patients; ++p) heap.push({admitted[static_cast<size_t>(p)].admitted, p, 0});
  int64_t cached_time = -1, cached_recorded = -1;
  std::string time_text, recorded_text, out;
  long written = 0;
  while (!heap.empty()) {
    Next n = heap.top();
    heap.pop();
    const Patient& p = admitted[static_cast<size_t>(n.patient)];
    const Event& e = stays[p.stay][n.event];
    if (n.time != cached_time) time_text = cdr::stdlib::FormatTime(cached_time = n.time);
    int64_t recorded = p.admitted + e.recorded;
    if (recorded != cached_recorded) recorded_text = cdr::stdlib::FormatTime(cached_recorded = recorded);
    char id[24];
    std::snprintf(id, sizeof id, "pt%07ld", n.patient + 1);
    out.clear();
    out += "{\"id\":\"";
    out += id;
    out += e.id_suffix;
    out += "\",\"patient\":\"";
    out += id;
    out += "\",\"time\":\"";
    out += time_text;
    out += "\",\"recorded\":\"";
    out += recorded_text;
    out += '"';
    out += e.rest;
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    ++written;
    if (n.event + 1 < stays[p.stay].size()) heap.push({p.admitted + stays[p.stay][n.event + 1].time, n.patient, n.event + 1});
  }
  std::fprintf(stderr, "gen_realistic: %ld events, %ld patients (copies of %zu stays) over %ld days\n", written, patients,
               stays.size(), days);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
