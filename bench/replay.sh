#!/usr/bin/env bash
# bench/replay.sh: end-to-end replay benchmark through `cdr run` with the shipped rule set,
# RUNS times on each ENGINE (interp, jit, adaptive; several are run interleaved, so their
# figures come from one session), on one of two streams:
# - synthetic (the default): EVENTS events over PATIENTS patients (bench/gen_stream.cpp);
# - realistic: PATIENTS copies of the 500 PhysioNet/CinC 2019 stays of the shared data,
#   admitted over DAYS days (bench/gen_realistic.cpp).
# Reports the median events/s, ns/event, peak RSS and RSS per patient of each, and the user
# and system CPU time of the median run (system time is mostly the kernel zeroing the pages
# the state grows into). CDR_STREAM_ONLY=1 only makes the stream and prints its path.
# Usage: bench/replay.sh [PATIENTS] [EVENTS] [RUNS] [ENGINES]   (defaults: 100000 10000000 3 interp)
#        bench/replay.sh realistic [PATIENTS] [DAYS] [RUNS] [ENGINES]   (defaults: 100000 30 3 interp)
# Needs the release build (scripts/build release) and a few GB of disk for the stream.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build-release/bin
[ -x "$bin/cdr" ] || { echo "replay: build first: scripts/build release" >&2; exit 2; }
if [ "${1:-}" = realistic ]; then
  patients="${2:-100000}"
  days="${3:-30}"
  runs="${4:-3}"
  read -r -a engines <<< "${5:-interp}"
  data="${CDR_SHARED_DATA:-../shared/data}/physionet2019/training_setB_sample"
  [ -d "$data" ] || { echo "replay: no PhysioNet stays at $data (set CDR_SHARED_DATA)" >&2; exit 2; }
  stream="${TMPDIR:-/tmp}/cdr-realistic-$patients-$days.ndjson"
  if [ ! -s "$stream" ]; then
    echo "replay: importing $data and generating $patients patients over $days days into $stream" >&2
    "$bin/cdr" import physionet2019 "$data" --out "$stream.stays"
    "$bin/cdr_gen_realistic" "$stream.stays" "$patients" "$days" 1 > "$stream.tmp"
    mv "$stream.tmp" "$stream"
    rm -f "$stream.stays"
  fi
else
  patients="${1:-100000}"
  events="${2:-10000000}"
  runs="${3:-3}"
  read -r -a engines <<< "${4:-interp}"
  # v2: the generator writes in time order (before, each hour cycled through its minutes)
  stream="${TMPDIR:-/tmp}/cdr-replay-$patients-$events-v2.ndjson"
  if [ ! -s "$stream" ]; then
    echo "replay: generating $events events over $patients patients into $stream" >&2
    "$bin/cdr_gen_stream" "$patients" "$events" 1 > "$stream.tmp"
    mv "$stream.tmp" "$stream"
  fi
fi
if [ -n "${CDR_STREAM_ONLY:-}" ]; then
  echo "$stream"
  exit 0
fi
events=$(wc -l < "$stream")
declare -A results
for i in $(seq "$runs"); do
  for engine in "${engines[@]}"; do
    out=$( { /usr/bin/time -f "%e %M %U %S" "$bin/cdr" run --live review --rules rules --engine "$engine" --events "$stream" --out /dev/null 2>&1 >/dev/null; } 2>&1 | tail -1)
    results[$engine]+="$out"$'\n'
    echo "replay: run $i, $engine: $out (seconds, peak KiB, user and system CPU seconds)" >&2
  done
done
for engine in "${engines[@]}"; do
  printf '%s' "${results[$engine]}" | sort -n | awk -v n="$runs" -v ev="$events" -v pts="$patients" -v engine="$engine" -v s="$stream" '
    { t[NR] = $1; m[NR] = $2; u[NR] = $3; sy[NR] = $4 }
    END {
      mid = int((n + 1) / 2);
      printf "replay %s on %s: %d events, %d patients, median of %d runs: %.2f s, %.0f events/s, %.0f ns/event, peak RSS %.0f MiB, %.0f bytes per patient (RSS / patients); that run: %.2f s user, %.2f s system CPU\n",
        engine, s, ev, pts, n, t[mid], ev / t[mid], t[mid] * 1e9 / ev, m[mid] / 1024, m[mid] * 1024 / pts, u[mid], sy[mid]
    }'
done
