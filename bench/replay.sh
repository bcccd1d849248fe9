#!/usr/bin/env bash
# bench/replay.sh: end-to-end replay benchmark: a generated stream of EVENTS events over
# PATIENTS patients (bench/gen_stream.cpp), through `cdr run` with the shipped rule set,
# RUNS times. Reports the median events/s, ns/event, peak RSS and RSS per patient.
# Usage: bench/replay.sh [PATIENTS] [EVENTS] [RUNS]   (defaults: 100000 10000000 3)
# Needs the release build (scripts/build release) and about 1.5 GB of disk for the stream.
set -euo pipefail
cd "$(dirname "$0")/.."
patients="${1:-100000}"
events="${2:-10000000}"
runs="${3:-3}"
bin=build-release/bin
[ -x "$bin/cdr" ] || { echo "replay: build first: scripts/build release" >&2; exit 2; }
stream="${TMPDIR:-/tmp}/cdr-replay-$patients-$events.ndjson"
if [ ! -s "$stream" ]; then
  echo "replay: generating $events events over $patients patients into $stream" >&2
  "$bin/cdr_gen_stream" "$patients" "$events" 1 > "$stream"
fi
results=()
for i in $(seq "$runs"); do
  out=$( { /usr/bin/time -f "%e %M" "$bin/cdr" run --rules rules --events "$stream" --out /dev/null 2>&1 >/dev/null; } 2>&1 | tail -1)
  results+=("$out")
  echo "replay: run $i: $out (seconds, peak KiB)" >&2
done
printf '%s\n' "${results[@]}" | sort -n | awk -v n="$runs" -v ev="$events" -v pts="$patients" '
  { t[NR] = $1; m[NR] = $2 }
  END {
    mid = int((n + 1) / 2);
    printf "replay: %d events, %d patients, median of %d runs: %.2f s, %.0f events/s, %.0f ns/event, peak RSS %.0f MiB, %.0f bytes per patient (RSS / patients)\n",
      ev, pts, n, t[mid], ev / t[mid], t[mid] * 1e9 / ev, m[mid] / 1024, m[mid] * 1024 / pts
  }'
