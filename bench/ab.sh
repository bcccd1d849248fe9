#!/usr/bin/env bash
# bench/ab.sh: an interleaved A/B of two or more cdr binaries end to end: each run of
# `cdr run --live review --rules rules --engine ENGINE --events STREAM --out /dev/null` in turn
# (the shipped rules are in review: `--live review` runs them), RUNS
# times, then the median and every time of each, and its peak RSS. Interleaving puts the
# drift of a shared machine's speed on every binary alike, so only the ratio of the
# medians measured together is a result (docs/performance.md).
# Usage: bench/ab.sh STREAM RUNS BINARY... (ENGINE from $CDR_ENGINE, default interp)
# Keep the binaries to compare as copies (cp build-release/bin/cdr /tmp/cdr-before).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: bench/ab.sh STREAM RUNS BINARY..." >&2
  exit 2
fi
stream="$1"
runs="$2"
shift 2
[ -s "$stream" ] || { echo "ab: no stream at $stream (bench/replay.sh makes one)" >&2; exit 2; }
for bin in "$@"; do
  [ -x "$bin" ] || { echo "ab: $bin is not an executable" >&2; exit 2; }
done
engine="${CDR_ENGINE:-interp}"
for i in $(seq "$runs"); do
  for bin in "$@"; do
    out=$( { /usr/bin/time -f "%e %M" "$bin" run --live review --rules rules --engine "$engine" --events "$stream" --out /dev/null 2>&1 >/dev/null; } 2>&1 | tail -1)
    echo "ab: run $i, $bin: $out (seconds, peak KiB)" >&2
    echo "$bin $out"
  done
done | awk '
  { t[$1] = t[$1] " " $2; m[$1] = $3; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
  END {
    for (k = 1; k <= n; ++k) {
      b = order[k]; c = split(t[b], v, " ");
      for (i = 1; i <= c; ++i) for (j = i + 1; j <= c; ++j) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
      med = c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2;
      printf "ab %s: median %.2f s of %d runs (%s), peak RSS %.0f MiB\n", b, med, c, substr(t[b], 2), m[b] / 1024
    }
  }'
