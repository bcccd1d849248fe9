#!/usr/bin/env python3
"""tests/validation/independent_check.py: the values cdr computes on real data, checked
against an independent computation of the same definitions.

cdr imports the PhysioNet/CinC 2019 stays and runs the shipped rules with `--trace`; this
script reads the same `.psv` files directly (not through cdr's importer or engine) and
computes, from the published definitions and the window conventions of issue #5 (vitals:
the latest value within the last 4 h; laboratory values: within 24 h; KDIGO: 48 h and 7
days; windows include the evaluation time and exclude their far end), every `let` of
NEWS2, SIRS, qSOFA, KDIGO, the critical values, the overdue observations and the
unanswered NEWS2 emergency at every evaluation point. Every
evaluation point of the trace must be one this script expects and vice versa, and every
value must be equal. Decimal arithmetic is exact (Python's decimal module), divisions
round half away from zero at 8 places, and unknown follows CQL's three-valued logic.

Usage: independent_check.py CDR SOURCE_DIR [DATA...] [--limit N] [--batch N]
  DATA: directories of .psv files or .tar.xz archives of them (default:
  tests/data/physionet2019); the stays run through cdr in streams of --batch stays
  (default 1000), each stream on its own (its timer points fire up to its end).
Every let of every rule that has an evaluation point is compared; a let or a rule this
script does not compute is reported as a difference.
Exit 0 when everything matches, 1 with the first differences listed.
"""
import decimal
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal, ROUND_HALF_UP

from physionet_files import stay_files

decimal.getcontext().prec = 60
HOUR = 3600 * 1000
EPOCH_MS = 946684800000  # 2000-01-01T00:00:00Z, the importer's time base

# ---- three-valued logic (None is unknown) ----------------------------------


def k_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def k_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def cmp(op, a, b):
    if a is None or b is None:
        return None
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def div(a, b):
    if a is None or b is None or b == 0:
        return None
    return (a / b).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)


def sub(a, b):
    return None if a is None or b is None else a - b


def if_then(cond, then, otherwise):
    return then if cond is True else otherwise  # an unknown condition takes `else`

# ---- the stays --------------------------------------------------------------

# Each measurement column's LOINC code, as the data set's documentation gives them (the
# units as given are the schema's canonical units).
COLUMN_LOINC = {
    "HR": "8867-4", "O2Sat": "59408-5", "Temp": "8310-5", "SBP": "8480-6", "MAP": "8478-0", "DBP": "8462-4",
    "Resp": "9279-1", "EtCO2": "19891-1", "BaseExcess": "1925-7", "HCO3": "1963-8", "FiO2": "3150-0",
    "pH": "2744-1", "PaCO2": "2019-8", "SaO2": "2708-6", "AST": "1920-8", "BUN": "3094-0",
    "Alkalinephos": "6768-6", "Calcium": "17861-6", "Chloride": "2075-0", "Creatinine": "2160-0",
    "Bilirubin_direct": "1968-7", "Glucose": "2345-7", "Lactate": "2524-7", "Magnesium": "19123-9",
    "Phosphate": "2777-1", "Potassium": "2823-3", "Bilirubin_total": "1975-2", "TroponinI": "10839-9",
    "Hct": "4544-3", "Hgb": "718-7", "PTT": "3173-2", "WBC": "6690-2", "Fibrinogen": "3255-7",
    "Platelets": "777-3",
}


def plausible_ranges(src):
    """LOINC code -> (low, high) of the schema's signals (rules/schema/*.cdr): a value
    outside is not used (docs/events.md), unless the signal says `keep`."""
    import re
    ranges = {}
    folder = os.path.join(src, "rules", "schema")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            for line in f:
                m = re.search(r"^\s*signal \w+ :.*?codes loinc ((?:\"[^\"]+\"(?:, )?)+).*?plausible (\S+) \.\. (\S+)( keep)?",
                              line)
                if not m or m.group(4):
                    continue
                for code in re.findall(r'"([^"]+)"', m.group(1)):
                    ranges[code] = (Decimal(m.group(2)), Decimal(m.group(3)))
    return ranges


PLAUSIBLE = {}  # filled in main from the schema


def read_stay(path, refused=None):
    """Column -> list of (hour, Decimal) of the non-missing cells, in time order; a value
    outside its signal's plausible range is left out (and counted in refused[column])."""
    with open(path) as f:
        header = f.readline().strip().split("|")
        series = {c: [] for c in header}
        for line in f:
            cells = line.strip().split("|")
            if len(cells) != len(header):
                continue
            row = dict(zip(header, cells))
            hour = int(row["ICULOS"])
            for c, v in row.items():
                if v != "NaN" and c not in ("ICULOS",):
                    value = Decimal(v)
                    bounds = PLAUSIBLE.get(COLUMN_LOINC.get(c))
                    if bounds and not bounds[0] <= value <= bounds[1]:
                        if refused is not None:
                            refused[c] = refused.get(c, 0) + 1
                        continue
                    series[c].append((hour, value))
    return series


def latest(series, col, now, window_h):
    """The latest value with time in (now - window, now]."""
    value = None
    for hour, v in series.get(col, []):
        if now - window_h < hour <= now:
            value = v
    return value


def lowest(series, col, now, window_h):
    values = [v for hour, v in series.get(col, []) if now - window_h < hour <= now]
    return min(values) if values else None


def points(series, cols):
    return sorted({hour for c in cols for hour, _ in series.get(c, [])})

# ---- the definitions --------------------------------------------------------


def band(x, rows, default):
    """rows: (upper bound inclusive or exclusive, score); the first that holds."""
    if x is None:
        return default
    for test, score in rows:
        if test(x):
            return score
    return default


def news2(s, t):
    """Royal College of Physicians, NEWS2 (2017), Chart 1 (SpO2 scale 1); a value between
    two published bands scores in the upper one (docs/rules.md, one band convention); a
    missing parameter scores 0."""
    rr, sat, sys_, pulse = latest(s, "Resp", t, 4), latest(s, "O2Sat", t, 4), latest(s, "SBP", t, 4), latest(s, "HR", t, 4)
    temp, fio2 = latest(s, "Temp", t, 4), latest(s, "FiO2", t, 4)
    # PhysioNet has no documented oxygen flag and no ACVPU: unknown.
    oxygen = k_or(False, cmp(">", fio2, Decimal("0.21")))
    D = Decimal
    rr_score = band(rr, [(lambda x: x <= 8, 3), (lambda x: x <= 11, 1), (lambda x: x <= 20, 0),
                         (lambda x: x <= 24, 2), (lambda x: True, 3)], 0)
    spo2_score = band(sat, [(lambda x: x <= 91, 3), (lambda x: x <= 93, 2), (lambda x: x <= 95, 1),
                            (lambda x: True, 0)], 0)
    air_score = if_then(oxygen, 2, 0)
    sbp_score = band(sys_, [(lambda x: x <= 90, 3), (lambda x: x <= 100, 2), (lambda x: x <= 110, 1),
                            (lambda x: x <= 219, 0), (lambda x: True, 3)], 0)
    pulse_score = band(pulse, [(lambda x: x <= 40, 3), (lambda x: x <= 50, 1), (lambda x: x <= 90, 0),
                               (lambda x: x <= 110, 1), (lambda x: x <= 130, 2), (lambda x: True, 3)], 0)
    acvpu_score = 0
    temp_score = band(temp, [(lambda x: x <= D("35.0"), 3), (lambda x: x <= D("36.0"), 1),
                             (lambda x: x <= D("38.0"), 0), (lambda x: x <= D("39.0"), 1), (lambda x: True, 2)], 0)
    scores = [rr_score, spo2_score, air_score, sbp_score, pulse_score, acvpu_score, temp_score]
    return {
        "rr": rr, "sat": sat, "sys": sys_, "pulse": pulse, "t": temp, "acvpu": None, "oxygen": oxygen,
        "rr_score": rr_score, "spo2_score": spo2_score, "air_score": air_score, "sbp_score": sbp_score,
        "pulse_score": pulse_score, "acvpu_score": acvpu_score, "temp_score": temp_score,
        "score": sum(scores), "single_red": any(x == 3 for x in scores),
    }


def sirs(s, t):
    """Bone et al., Chest 1992: temperature > 38 or < 36 Cel, heart rate > 90, respiratory
    rate > 20 or PaCO2 < 32 mm Hg, WBC > 12 or < 4 10^3/uL; a criterion counts when known met."""
    temp, wbc = latest(s, "Temp", t, 4), latest(s, "WBC", t, 24)
    temperature = if_then(k_or(cmp(">", temp, Decimal("38.0")), cmp("<", temp, Decimal("36.0"))), 1, 0)
    tachycardia = if_then(cmp(">", latest(s, "HR", t, 4), 90), 1, 0)
    respiratory = if_then(k_or(cmp(">", latest(s, "Resp", t, 4), 20), cmp("<", latest(s, "PaCO2", t, 24), 32)), 1, 0)
    leukocytes = if_then(k_or(cmp(">", wbc, 12), cmp("<", wbc, 4)), 1, 0)
    return {"t": temp, "w": wbc, "temperature": temperature, "tachycardia": tachycardia, "respiratory": respiratory,
            "leukocytes": leukocytes, "score": temperature + tachycardia + respiratory + leukocytes}


def qsofa(s, t):
    """Seymour et al., JAMA 2016: respiratory rate >= 22, systolic BP <= 100, GCS < 15
    (PhysioNet has no GCS: never known to be met)."""
    tachypnea = if_then(cmp(">=", latest(s, "Resp", t, 4), 22), 1, 0)
    hypotension = if_then(cmp("<=", latest(s, "SBP", t, 4), 100), 1, 0)
    altered = 0
    return {"tachypnea": tachypnea, "hypotension": hypotension, "altered": altered,
            "score": tachypnea + hypotension + altered}


def kdigo(s, t):
    """KDIGO 2012, Table 2 (creatinine): stage 1 at a rise >= 0.3 mg/dL over the 48-hour
    low or >= 1.5 times the 7-day low; 2 at >= 2.0 times; 3 at >= 3.0 times, or >= 4.0
    mg/dL with a stage 1 criterion."""
    current = latest(s, "Creatinine", t, 48)
    low_48h, low_7d = lowest(s, "Creatinine", t, 48), lowest(s, "Creatinine", t, 168)
    rise = sub(current, low_48h)
    ratio = div(current, low_7d)
    stage1 = k_or(cmp(">=", rise, Decimal("0.3")), cmp(">=", ratio, Decimal("1.5")))
    three = k_or(cmp(">=", ratio, Decimal("3.0")), k_and(cmp(">=", current, Decimal("4.0")), stage1))
    stage = if_then(three, 3, if_then(cmp(">=", ratio, Decimal("2.0")), 2, if_then(stage1, 1, 0)))
    return {"current": current, "low_48h": low_48h, "low_7d": low_7d, "rise": rise, "ratio": ratio,
            "stage1": stage1, "stage": stage}


def critical(s, t):
    """Potassium, glucose and lactate of the last 24 h; shock index = HR / SBP (4 h)."""
    return {"k": latest(s, "Potassium", t, 24), "glc": latest(s, "Glucose", t, 24), "lac": latest(s, "Lactate", t, 24),
            "shock_index": div(latest(s, "HR", t, 4), latest(s, "SBP", t, 4))}


NEWS2_COLUMNS = ["Resp", "O2Sat", "SBP", "HR", "Temp", "FiO2"]


def overdue(s, t):
    """No respiratory rate in (t - 12 h, t], and the highest NEWS2 total at NEWS2's own
    evaluation points in (t - 24 h, t] (unknown when there is none)."""
    scores = [news2(s, h)["score"] for h in points(s, NEWS2_COLUMNS) if t - 24 < h <= t]
    return {"recent_news2": max(scores) if scores else None,
            "rr_overdue": not any(t - 12 < h <= t for h, _ in s.get("Resp", []))}


def overdue_points(s, stream_end):
    """The hours of a respiratory rate or of a NEWS2 evaluation point, and 12 h after each
    respiratory rate (the absence timer) once the stream has passed it."""
    resp = [h for h, _ in s.get("Resp", [])]
    return sorted(set(resp) | set(points(s, NEWS2_COLUMNS)) | {h + 12 for h in resp if h + 12 < stream_end})


RETENTION = 8 * 24  # hours: rules/ruleset.cdr


def news2_total_at(s, x):
    """The derived signal `news2.score` as a step function: the total at NEWS2's latest
    evaluation point at or before x, within the retention (unknown when there is none)."""
    prior = [h for h in points(s, NEWS2_COLUMNS) if x - RETENTION < h <= x]
    return news2(s, max(prior))["score"] if prior else None


def unanswered(s, t):
    """rules/news2_unanswered.cdr: the NEWS2 total 7 or more at every instant of
    [t - 30 min, t] (it can change only where a NEWS2 point enters or leaves the
    retention, so those instants and t - 30 min are checked); no response to NEWS2's
    alerts (the data set has none)."""
    pts = points(s, NEWS2_COLUMNS)
    instants = [t - 0.5] + [x for h in pts for x in (h, h + RETENTION) if t - 0.5 < x <= t]
    totals = [news2_total_at(s, x) for x in instants]
    return {"emergency": all(v is not None and v >= 7 for v in totals),
            "unacknowledged": True, "not_escalated": True, "not_overridden": True}


def unanswered_points(s, stream_end):
    """The NEWS2 points (events of `news2.score`), and the `for 30min` timers: 30 min
    after each instant the total can change (a point, and its leaving the retention),
    once the stream has passed them."""
    pts = points(s, NEWS2_COLUMNS)
    timers = {x + 0.5 for h in pts for x in (h, h + RETENTION) if x + 0.5 < stream_end}
    return sorted(set(pts) | timers)


RULES = {
    "news2": (news2, ["Resp", "O2Sat", "SBP", "HR", "Temp", "FiO2"]),
    "sirs": (sirs, ["Temp", "WBC", "HR", "Resp", "PaCO2"]),
    "qsofa": (qsofa, ["Resp", "SBP"]),
    "kdigo_aki": (kdigo, ["Creatinine"]),
    "critical_values": (critical, ["Potassium", "Glucose", "Lactate", "HR", "SBP"]),
    "overdue_observations": (overdue, overdue_points),
    "news2_unanswered": (unanswered, unanswered_points),
}

# The clinical measurements of the data set (its README): every column but the
# demographics, the ICU stay hour and the label. The stream ends at the last of them.
NOT_MEASUREMENTS = {"Age", "Gender", "Unit1", "Unit2", "HospAdmTime", "ICULOS", "SepsisLabel"}

# ---- the comparison ---------------------------------------------------------


def same(expected, got):
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    return Decimal(expected) == Decimal(got)


def check_batch(cdr, src, paths):
    """Imports the stays `paths` as one stream, runs the shipped rules over it with a
    trace, and compares every evaluation point and value. Returns (points, values,
    problems)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "stays")
        os.mkdir(data)
        for path in paths:
            os.symlink(os.path.abspath(path), os.path.join(data, os.path.basename(path)))
        events, trace = os.path.join(tmp, "events.ndjson"), os.path.join(tmp, "trace.ndjson")
        dead = os.path.join(tmp, "dead.ndjson")
        subprocess.run([cdr, "import", "physionet2019", data, "--out", events], check=True, stderr=subprocess.DEVNULL)
        subprocess.run([cdr, "run", "--live", "review", "--rules", os.path.join(src, "rules"), "--events", events, "--trace", trace,
                        "--out", os.devnull, "--dead-letter", dead], check=True, stderr=subprocess.DEVNULL)
        with open(dead) as f:
            dead_letters = [json.loads(line) for line in f]
        got = {}
        with open(trace) as f:
            for line in f:
                r = json.loads(line, parse_float=Decimal, parse_int=Decimal)
                got[(r["rule"], r["patient"], r["time"])] = r["values"]

    def stamp(hour):
        from datetime import datetime, timezone
        return datetime.fromtimestamp((EPOCH_MS + hour * HOUR) / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    problems, checked_points, checked_values = [], 0, 0
    expected_keys = set()
    refused = {}
    stays = {os.path.basename(p)[:-4]: read_stay(p, refused) for p in paths}
    # cdr refuses exactly the implausible values (each to its dead-letter output).
    implausible = [d for d in dead_letters if "plausible" in d.get("reason", "")]
    if len(implausible) != sum(refused.values()) or len(implausible) != len(dead_letters):
        problems.append(f"{len(dead_letters)} dead letters ({len(implausible)} implausible values), "
                        f"{sum(refused.values())} implausible cells in the files")
    # The stays are one stream, merged in time order; timer points fire up to its end.
    stream_end = max(h for s in stays.values() for c, series in s.items() if c not in NOT_MEASUREMENTS for h, _ in series)
    for patient, s in stays.items():
        for rule, (compute, cols) in RULES.items():
            for hour in (cols(s, stream_end) if callable(cols) else points(s, cols)):
                key = (rule, patient, stamp(hour))
                expected_keys.add(key)
                if key not in got:
                    problems.append(f"{rule} {patient} {stamp(hour)}: no evaluation point in the trace")
                    continue
                checked_points += 1
                want = compute(s, hour)
                for let, value in want.items():
                    checked_values += 1
                    have = got[key].get(let, "(absent)")
                    if have == "(absent)" or not same(value, have):
                        problems.append(f"{rule} {patient} {stamp(hour)}: {let}: expected {value}, cdr gives {have}")
                # Every let of the rule is checked: one this script does not compute is a gap.
                for let in sorted(set(got[key]) - set(want)):
                    problems.append(f"{rule} {patient} {stamp(hour)}: {let}: not computed independently")
    for key in got:
        if key[0] in RULES and key not in expected_keys:
            problems.append(f"{key[0]} {key[1]} {key[2]}: an evaluation point the definitions do not have")
        elif key[0] not in RULES:
            problems.append(f"{key[0]} {key[1]} {key[2]}: a rule this script does not check")
    return checked_points, checked_values, problems, refused


def main():
    import argparse
    parser = argparse.ArgumentParser(description="cdr's values on PhysioNet 2019 stays against an independent computation")
    parser.add_argument("cdr")
    parser.add_argument("source_dir")
    parser.add_argument("data", nargs="*", help="directories of .psv files or .tar.xz archives of them "
                                                "(default: tests/data/physionet2019)")
    parser.add_argument("--limit", type=int, help="only the first N stays, in name order")
    parser.add_argument("--batch", type=int, default=1000, help="stays per stream (default 1000)")
    args = parser.parse_args()
    sources = args.data or [os.path.join(args.source_dir, "tests", "data", "physionet2019")]
    points_total = values_total = 0
    problems = []
    refused_total = {}
    PLAUSIBLE.update(plausible_ranges(args.source_dir))
    with tempfile.TemporaryDirectory() as scratch:
        files = stay_files(sources, scratch, args.limit)
        for i in range(0, len(files), args.batch):
            p, v, found, refused = check_batch(args.cdr, args.source_dir, files[i:i + args.batch])
            points_total += p
            values_total += v
            problems += found
            for c, n in refused.items():
                refused_total[c] = refused_total.get(c, 0) + n
            if len(files) > args.batch:
                print(f"independent check: {min(i + args.batch, len(files))} of {len(files)} stays, "
                      f"{len(problems)} differences so far", file=sys.stderr, flush=True)
    print(f"independent check: {len(files)} stays, {points_total} evaluation points, {values_total} values, "
          f"{len(problems)} differences")
    if refused_total:
        print(f"{sum(refused_total.values())} implausible values left out (cdr: dead letters): " +
              ", ".join(f"{c} {n}" for c, n in sorted(refused_total.items())))
    for p in problems[:30]:
        print("  " + p)
    return 1 if problems or points_total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
