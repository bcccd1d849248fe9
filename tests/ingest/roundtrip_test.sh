#!/usr/bin/env bash
# tests/ingest/roundtrip_test.sh CDR SOURCE_DIR: the 150 PhysioNet stays of tests/data, sent
# as HL7 v2 ORU^R01 messages and as FHIR R4 Observations by physionet_to_messages.py
# (written from the standards, not from cdr's code), give the same final alerts as the
# NDJSON events of `cdr import physionet2019`: every field of every alert but the ids of
# the evidence's events (each format names its events its own way).
set -uo pipefail
cdr="$1"; src="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
python3 "$src/tests/ingest/physionet_to_messages.py" "$src/tests/data/physionet2019" "$tmp" || exit 1
"$cdr" import physionet2019 "$src/tests/data/physionet2019" --out "$tmp/events.ndjson" 2>/dev/null || exit 1
for run in ndjson:events.ndjson hl7v2:results.hl7 fhir:observations.ndjson; do
  format=${run%%:*}
  "$cdr" run --live draft --rules "$src/rules" --format "$format" --out "$tmp/alerts.$format" --dead-letter "$tmp/dead.$format" \
    <"$tmp/${run#*:}" 2>"$tmp/err.$format" || { echo "FAIL: cdr run --format $format"; cat "$tmp/err.$format"; fail=1; }
  head -1 "$tmp/err.$format"
done
python3 - "$tmp" <<'PY' || fail=1
import json, sys
tmp = sys.argv[1]
def final(path):
    fires = {}
    for line in open(path):
        a = json.loads(line)
        if a["action"] == "fire":
            fires[a["alert"]] = a
        else:
            fires.pop(a["alert"], None)
    for a in fires.values():
        for e in a["evidence"]:
            for ev in e["events"]:
                del ev["id"]
    return fires
def reasons(path):
    return sorted(json.loads(line)["reason"] for line in open(path))
base = final(f"{tmp}/alerts.ndjson")
ok = len(base) > 1000  # the sample fires 1,777 alerts
if not ok:
    print(f"FAIL: only {len(base)} final alerts from the NDJSON path")
for f in ("hl7v2", "fhir"):
    other = final(f"{tmp}/alerts.{f}")
    same = other == base
    # The same events refused, for the same reasons (one MAP of 256 mm[Hg], implausible).
    same_dead = reasons(f"{tmp}/dead.{f}") == reasons(f"{tmp}/dead.ndjson")
    print(f"{'ok' if same and same_dead else 'FAIL'}: {f}: {len(other)} final alerts "
          f"({'equal' if same else 'different'}), dead letters {'equal' if same_dead else 'different'}")
    if not same:
        diff = [k for k in set(base) | set(other) if base.get(k) != other.get(k)]
        print("  first difference:", json.dumps(base.get(diff[0])), json.dumps(other.get(diff[0])))
    ok = ok and same and same_dead
sys.exit(0 if ok else 1)
PY
exit $fail
