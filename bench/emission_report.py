#!/usr/bin/env python3
"""bench/emission_report.py: fires, retractions and final alerts of both emission
policies (`--emit settled|eager`) on three orders of the same events: in order (as
`cdr import physionet2019` writes them: one patient's panel together), interleaved (each
hour's events of all patients in random order, so a patient's panel arrives in
fragments, as in a merged hospital feed), and shuffled (each event delayed at random by
up to 6 hours, within the allowed lateness). The final alerts (fires minus retractions)
must be the same in all six runs; the script fails otherwise.

Usage: bench/emission_report.py PATH/TO/cdr [PSV_DIR]   (default: tests/data/physionet2019)
"""
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime


def hours(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() / 3600


def main():
    cdr = sys.argv[1]
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(src, "tests", "data", "physionet2019")
    with tempfile.TemporaryDirectory() as tmp:
        inorder = os.path.join(tmp, "inorder.ndjson")
        subprocess.run([cdr, "import", "physionet2019", data, "--out", inorder], check=True, stderr=subprocess.DEVNULL)
        lines = open(inorder).read().splitlines()
        rng = random.Random(20261206)
        by_time = collections.defaultdict(list)
        for line in lines:
            by_time[json.loads(line)["time"]].append(line)
        interleaved = []
        for t in sorted(by_time):
            group = by_time[t][:]
            rng.shuffle(group)
            interleaved += group
        keyed = [(hours(json.loads(line)["time"]) + rng.random() * 6, i, line) for i, line in enumerate(lines)]
        shuffled = [line for _, _, line in sorted(keyed)]
        streams = {"in order": lines, "interleaved": interleaved, "shuffled (6 h)": shuffled}
        finals = {}
        print("| stream | emission | fires | retractions | final alerts |")
        print("| --- | --- | --- | --- | --- |")
        for name, stream in streams.items():
            path = os.path.join(tmp, "events.ndjson")
            with open(path, "w") as f:
                f.write("\n".join(stream) + "\n")
            for emit in ("settled", "eager"):
                alerts = os.path.join(tmp, "alerts.ndjson")
                subprocess.run([cdr, "run", "--live", "review", "--rules", os.path.join(src, "rules"), "--events", path, "--emit", emit,
                                "--out", alerts, "--dead-letter", os.devnull, "--late", os.devnull],
                               check=True, stderr=subprocess.DEVNULL)
                fires = retractions = 0
                final = {}
                for line in open(alerts):
                    a = json.loads(line)
                    action = a.pop("action")
                    if action == "fire":
                        fires += 1
                        final[a["alert"]] = json.dumps(a, sort_keys=True)
                    else:
                        retractions += 1
                        final.pop(a["alert"], None)
                finals[(name, emit)] = final
                print(f"| {name} | {emit} | {fires} | {retractions} | {len(final)} |")
        first = next(iter(finals.values()))
        if any(f != first for f in finals.values()):
            print("FAIL: the final alerts differ between runs")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
