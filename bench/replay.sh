#!/usr/bin/env bash
# bench/replay.sh: end-to-end replay benchmark: a generated stream of EVENTS events over
# PATIENTS patients (bench/gen_stream.cpp), through `cdr run` with the shipped rule set,
# RUNS times on each ENGINE (interp, jit, adaptive; several are run interleaved, so their
# figures come from one session). Reports the median events/s, ns/event, peak RSS and
# RSS per patient of each, and the user and system CPU time of the median run (system
# time is mostly the kernel zeroing the pages the state grows into).
# Usage: bench/replay.sh [PATIENTS] [EVENTS] [RUNS] [ENGINES]   (defaults: 100000 10000000 3 interp)
# Needs the release build (scripts/build release) and about 1.5 GB of disk for the stream.
set -euo pipefail
cd "$(dirname "$0")/.."
patients="${1:-100000}"
events="${2:-10000000}"
runs="${3:-3}"
read -r -a engines <<< "${4:-interp}"
bin=build-release/bin
[ -x "$bin/cdr" ] || { echo "replay: build first: scripts/build release" >&2; exit 2; }
# v2: the generator writes in time order (before, each hour cycled through its minutes)
stream="${TMPDIR:-/tmp}/cdr-replay-$patients-$events-v2.ndjson"
if [ ! -s "$stream" ]; then
  echo "replay: generating $events events over $patients patients into $stream" >&2
  "$bin/cdr_gen_stream" "$patients" "$events" 1 > "$stream"
fi
declare -A results
for i in $(seq "$runs"); do
  for engine in "${engines[@]}"; do
    out=$( { /usr/bin/time -f "%e %M %U %S" "$bin/cdr" run --live review --rules rules --engine "$engine" --events "$stream" --out /dev/null 2>&1 >/dev/null; } 2>&1 | tail -1)
    results[$engine]+="$out"$'\n'
    echo "replay: run $i, $engine: $out (seconds, peak KiB, user and system CPU seconds)" >&2
  done
done
for engine in "${engines[@]}"; do
  printf '%s' "${results[$engine]}" | sort -n | awk -v n="$runs" -v ev="$events" -v pts="$patients" -v engine="$engine" '
    { t[NR] = $1; m[NR] = $2; u[NR] = $3; s[NR] = $4 }
    END {
      mid = int((n + 1) / 2);
      printf "replay %s: %d events, %d patients, median of %d runs: %.2f s, %.0f events/s, %.0f ns/event, peak RSS %.0f MiB, %.0f bytes per patient (RSS / patients); that run: %.2f s user, %.2f s system CPU\n",
        engine, ev, pts, n, t[mid], ev / t[mid], t[mid] * 1e9 / ev, m[mid] / 1024, m[mid] * 1024 / pts, u[mid], s[mid]
    }'
done
