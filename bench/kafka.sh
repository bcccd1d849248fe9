#!/usr/bin/env bash
# bench/kafka.sh: `cdr serve` through Kafka on loopback, against librdkafka's mock cluster
# (tests/tools/kafka_mock.cpp), release build:
#  - throughput: a topic preloaded with the synthetic stream (cdr_gen_stream, keyed by
#    patient); one member, then two members of a group, read it all; events per second
#    between the group's first commit and its last (bench/kafka_bench.cpp throughput),
#    RUNS times each, interleaved; medians and the ratio.
#  - latency: one member; events produced at RATE per second, alerts consumed; from the
#    production of a point's last event to its alert's arrival (kafka_bench latency).
# The mock keeps at most about 5 MB per partition: EVENTS must fit in PARTITIONS of them.
# Usage: bench/kafka.sh [EVENTS] [PARTITIONS] [RUNS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-400000}
parts=${2:-24}
runs=${3:-3}
rate=${4:-20000}
cmake --preset release >/dev/null
cmake --build --preset release --target cdr cdr_gen_stream cdr_kafka_mock cdr_kafka_bench >/dev/null
bin=build-release/bin
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exec 9>&-; rm -rf "$tmp"' EXIT

topics=()
for r in $(seq 1 "$runs"); do
  for n in 1 2; do topics+=("t$r-$n:$parts" "t$r-$n.alerts" "t$r-$n.state"); done
done
topics+=("live:$parts" "live.alerts" "live.state")
mkfifo "$tmp/mock.in"
"$bin/cdr_kafka_mock" "${topics[@]}" <"$tmp/mock.in" >"$tmp/boot" 2>"$tmp/mock.err" &
pids+=($!)
exec 9>"$tmp/mock.in"
for _ in $(seq 1 100); do [ -s "$tmp/boot" ] && break; sleep 0.05; done
boot=$(head -1 "$tmp/boot")

patients=$((events / 100))
"$bin/cdr_gen_stream" "$patients" "$events" 1 >"$tmp/events.ndjson"
awk '{ match($0, /"patient":"[^"]*"/); print substr($0, RSTART + 11, RLENGTH - 12) "\t" $0 }' \
  "$tmp/events.ndjson" >"$tmp/events.tsv"
for r in $(seq 1 "$runs"); do
  for n in 1 2; do kcat -P -b "$boot" -t "t$r-$n" -K $'\t' -l "$tmp/events.tsv"; done
done
echo "kafka bench: $events events ($patients patients) in each of $((2 * runs)) topics of $parts partitions, $(nproc) cores"

serve() {  # serve TOPIC LOG [OPTION...]: a member of group TOPIC, in the background
  # fetch.wait.max.ms: the mock answers a fetch that finds nothing only after this wait
  # (a broker answers as data comes): short, as a consumer that wants low latency sets it.
  "$bin/cdr" serve --live review --rules rules --source "kafka:$boot/$1" --group "$1" --emit eager --commit-every 50ms \
    --state-every 1h --kafka-option session.timeout.ms=6000 --kafka-option log_level=3 \
    --kafka-option fetch.wait.max.ms=10 "${@:3}" 2>"$2" &
  pids+=($!)
}
declare -A rates
for r in $(seq 1 "$runs"); do
  for n in 1 2; do
    members=()
    for m in $(seq 1 "$n"); do
      serve "t$r-$n" "$tmp/t$r-$n.$m.err"
      members+=($!)
    done
    line=$("$bin/cdr_kafka_bench" throughput "$boot" "t$r-$n" "t$r-$n" "$parts" "$events")
    kill -TERM "${members[@]}"
    wait "${members[@]}" || true
    echo "run $r, $n member(s): $line"
    rates[$n]+="$(echo "$line" | grep -o '[0-9]* events/s' | cut -d' ' -f1) "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
one=$(echo "${rates[1]}" | median)
two=$(echo "${rates[2]}" | median)
echo "median: one member $one events/s, two members $two events/s, ratio $(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", b / a }')"

serve live "$tmp/live.err" --admin 127.0.0.1:0
live=$!
for _ in $(seq 1 600); do grep -q 'partitions assigned: live' "$tmp/live.err" && break; sleep 0.1; done
"$bin/cdr_kafka_bench" latency "$boot" live live.alerts "$tmp/events.ndjson" "$rate"
# serve's own share: from a message's arrival to the hand-over of its alerts to the producer.
port=$(grep -o 'admin endpoint on http://127.0.0.1:[0-9]*' "$tmp/live.err" | grep -o '[0-9]*$')
curl -s "http://127.0.0.1:$port/metrics" | awk '/^cdr_event_to_alert_latency_seconds_(sum|count)/ { v[$1] = $2 }
  END { printf "in serve: %d messages made alerts, mean %.3f ms from arrival to hand-over\n",
        v["cdr_event_to_alert_latency_seconds_count"],
        1000 * v["cdr_event_to_alert_latency_seconds_sum"] / v["cdr_event_to_alert_latency_seconds_count"] }'
kill -TERM "$live"
wait "$live" || true
