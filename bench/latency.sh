#!/usr/bin/env bash
# bench/latency.sh: event-to-alert latency of the serve pipeline at 10%, 50% and 90% of
# its maximum rate, per emission policy (bench/latency_bench.cpp). Release build.
# Usage: bench/latency.sh [PATIENTS] [EVENTS] [SECONDS_PER_LOAD]
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:-2000}
events=${2:-400000}
seconds=${3:-5}
cmake --preset release >/dev/null
cmake --build --preset release --target cdr_latency_bench cdr_gen_stream >/dev/null
stream=$(mktemp /tmp/cdr-latency-stream-XXXXXX)
trap 'rm -f "$stream"' EXIT
build-release/bin/cdr_gen_stream "$patients" "$events" 1 >"$stream"
build-release/bin/cdr_latency_bench "$stream" "$seconds"
