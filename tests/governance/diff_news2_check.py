#!/usr/bin/env python3
"""tests/governance/diff_news2_check.py: `cdr diff`'s figures for a NEWS2 change, derived
independently.

The change: NEWS2's temperature bands with 37.5 Cel (not 38.0) as the top of the band that
scores 0, so 37.6 to 39.0 scores 1. Both versions' alerts are computed here from the
.psv files, not through cdr: each let of NEWS2 at each evaluation point by
tests/validation/independent_check.py (Royal College of Physicians, NEWS2 2017, Chart 1),
the temperature score again with the changed bands, the alert of the first `when` clause
that holds (score >= 7 critical, >= 5 high, a single parameter scoring 3 medium; Chart 2),
and suppression as docs/semantics.md defines it: a point alerts unless an alert of the
same or a higher severity was given less than 4 hours before it. Then every figure of
`cdr diff --json` for news2 is compared: alerts before and after, patients alerted,
newly and no longer alerted, added, removed and changed alerts (same patient and time,
another severity or other values), alerts per severity and per day, and the shift of
time to first alert.

Usage: diff_news2_check.py SOURCE_DIR DIFF_JSON [DATA_DIR]
Exit 0 when every figure matches, 1 listing the differences.
"""
import json
import os
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "validation"))
import independent_check as ic  # noqa: E402

SEVERITY_RANK = {"medium": 1, "high": 2, "critical": 3}


def head_temp_score(t):
    """The changed bands: <= 35.0: 3; <= 36.0: 1; <= 37.5: 0; <= 39.0: 1; else 2."""
    D = Decimal
    return ic.band(t, [(lambda x: x <= D("35.0"), 3), (lambda x: x <= D("36.0"), 1), (lambda x: x <= D("37.5"), 0),
                       (lambda x: x <= D("39.0"), 1), (lambda x: True, 2)], 0)


def values_at(s, hour, head):
    v = ic.news2(s, hour)
    if head:
        v = dict(v)
        v["score"] = v["score"] - v["temp_score"] + head_temp_score(v["t"])
        v["temp_score"] = head_temp_score(v["t"])
        parts = ["rr_score", "spo2_score", "sbp_score", "pulse_score", "acvpu_score", "temp_score"]
        v["single_red"] = any(v[p] == 3 for p in parts)
    return v


def severity(v):
    if v["score"] >= 7:
        return "critical"
    if v["score"] >= 5:
        return "high"
    if v["single_red"]:
        return "medium"
    return None


def alerts(stays, head):
    """(patient, hour) -> (severity, values) of the final alerts."""
    out = {}
    cols = ic.RULES["news2"][1]
    for patient, s in stays.items():
        given = []  # (hour, severity) of the alerts given
        for hour in ic.points(s, cols):
            v = values_at(s, hour, head)
            sev = severity(v)
            if sev is None:
                continue
            if any(hour - h < 4 and SEVERITY_RANK[g] >= SEVERITY_RANK[sev] for h, g in given):
                continue
            given.append((hour, sev))
            out[(patient, hour)] = (sev, v)
    return out


def main():
    src, diff_json = sys.argv[1], sys.argv[2]
    data = sys.argv[3] if len(sys.argv) > 3 else os.path.join(src, "tests", "data", "physionet2019")
    ic.PLAUSIBLE.update(ic.plausible_ranges(src))
    stays = {name[:-4]: ic.read_stay(os.path.join(data, name)) for name in sorted(os.listdir(data))
             if name.endswith(".psv")}
    base, head = alerts(stays, False), alerts(stays, True)

    def day(hour):
        return ic.EPOCH_MS + hour * ic.HOUR

    from datetime import datetime, timezone

    def date_of(hour):
        return datetime.fromtimestamp(day(hour) / 1000, timezone.utc).strftime("%Y-%m-%d")

    def first(a):
        f = {}
        for (p, h) in sorted(a):
            f.setdefault(p, h)
        return f

    fb, fh = first(base), first(head)
    both = sorted(set(fb) & set(fh))
    shifts = sorted((fh[p] - fb[p]) * ic.HOUR for p in both)
    median = None
    if shifts:
        m = len(shifts) // 2
        median = shifts[m] if len(shifts) % 2 else (shifts[m - 1] + shifts[m]) // 2
    severities, days = {}, {}
    for a, i in ((base, 0), (head, 1)):
        for (p, h), (sev, _) in a.items():
            severities.setdefault(sev, [0, 0])[i] += 1
            days.setdefault(date_of(h), [0, 0])[i] += 1
    changed = sum(1 for k in set(base) & set(head) if base[k] != head[k])
    expected = {
        "base_alerts": len(base),
        "head_alerts": len(head),
        "base_patients": len(fb),
        "head_patients": len(fh),
        "newly_alerted": sorted(set(fh) - set(fb)),
        "no_longer_alerted": sorted(set(fb) - set(fh)),
        "added": len(set(head) - set(base)),
        "removed": len(set(base) - set(head)),
        "changed": changed,
        "by_severity": {k: v for k, v in sorted(severities.items())},
        "by_day": {k: v for k, v in sorted(days.items())},
        "first_alert_shift_median_ms": median,
        "first_alert_earlier": sum(1 for x in shifts if x < 0),
        "first_alert_later": sum(1 for x in shifts if x > 0),
        "first_alert_same": sum(1 for x in shifts if x == 0),
        "text_changed": True,
    }
    with open(diff_json) as f:
        got = {r["rule"]: r for r in json.load(f)["rules"]}
    problems = []
    if set(got) != {"news2"}:
        problems.append(f"rules in the diff: {sorted(got)}, expected news2 only")
    g = got.get("news2", {})
    for key, want in expected.items():
        if g.get(key) != want:
            problems.append(f"{key}: cdr diff gives {g.get(key)}, expected {want}")
    print(f"diff check: news2 {len(base)} -> {len(head)} alerts, {expected['added']} added, {expected['removed']} "
          f"removed, {changed} changed; {len(problems)} differences")
    for p in problems:
        print("  " + p)
    return 1 if problems or not base else 0


if __name__ == "__main__":
    sys.exit(main())
