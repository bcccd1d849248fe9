#!/usr/bin/env bash
# tests/cli/kafka_test.sh: `cdr serve --source kafka:...` against a real Kafka protocol
# implementation on loopback (librdkafka's mock cluster, tests/tools/kafka_mock.cpp), with
# kcat as an independent client producing the events (keyed by patient) and consuming
# the alerts. Two thirds of the events are served; serve is killed with SIGKILL; the rest
# are produced and a new serve of the same group continues. The final alerts (fires minus
# retractions, by alert id, across the routed topics) are those `cdr run` makes of the
# same events (both with eager emission); the restart restored each partition's state
# from its snapshot in the state topic (one written with other options is not used);
# the admin endpoint answers /health and /metrics (curl), its stream time not held back
# by partitions quiet longer than --idle-timeout; high alerts went to the paging
# topic only; a message keyed by another
# patient and a line that is not JSON are dead-lettered with their partition and offset;
# a rule added while serving is swapped into every partition, a broken one refused; a
# broker refusing the alerts' writes stops serve with exit 2, naming the topic.
# The mock keeps a bounded log per partition (observed: of 50,000 small messages it kept
# the last 27,000 to 31,000), so the topics here stay small.
# Usage: kafka_test.sh PATH/TO/cdr PATH/TO/cdr_gen_stream PATH/TO/cdr_kafka_mock SOURCE_DIR
set -uo pipefail
cdr="$1"
gen="$2"
mock="$3"
src="$4"
source "$(dirname "$0")/kafka_lib.sh"
kafka_setup kafka_test

start_mock "$mock" events:3 events.alerts paging events.dead-letter events.late g.state:2 hot.alerts hot.state

# Events keyed by patient (kcat -K: KEY<TAB>VALUE); the first part ends with a message
# keyed by another patient and a line that is not JSON.
"$gen" 60 6000 11 >"$tmp/all.ndjson"
head -4000 "$tmp/all.ndjson" | key >"$tmp/part1.tsv"
wrong=$(sed -n 4001p "$tmp/all.ndjson")
printf 'not-the-patient\t%s\np1\tnot json\n' "$wrong" >>"$tmp/part1.tsv"
tail -n +4002 "$tmp/all.ndjson" | key >"$tmp/part2.tsv"
# A partition's last panel (its patient's events of one time) is applied when the
# partition's next message shows the panel ended: each partition ends with a later event
# of a patient of its own (kcat -p), a minute after the last, as a live feed's next
# events would (much later, it would be held as too far ahead: --max-ahead).
for p in 0 1 2; do
  printf '{"id":"s%s","patient":"sentinel-%s","time":"2000-01-01T17:09:00Z","code":{"system":"http://loinc.org","code":"8867-4"},"value":70,"unit":"/min"}\n' "$p" "$p"
done >"$tmp/sentinels.ndjson"
# One more, later, for partition 0 only, once the others have been quiet a while.
late0='{"id":"s0b","patient":"sentinel-0","time":"2000-01-01T17:30:00Z","code":{"system":"http://loinc.org","code":"8867-4"},"value":72,"unit":"/min"}'
# What cdr run sees: every event kafka accepts (the wrongly keyed one is dead-lettered there).
{ head -4000 "$tmp/all.ndjson"; tail -n +4002 "$tmp/all.ndjson"; cat "$tmp/sentinels.ndjson"; echo "$late0"; } \
  >"$tmp/run.ndjson"
total1=$(wc -l <"$tmp/part1.tsv")
total=$((total1 + $(wc -l <"$tmp/part2.tsv") + 3))  # and late0, produced last
printf '# high alerts page; everything else to the default topic\n*  high  paging\n' >"$tmp/routing"

kcat -P -b "$boot" -t events -K $'\t' -l "$tmp/part1.tsv" 2>"$tmp/kcat.err"
check "kcat produced the first part" 0 $?
# A chunk of a snapshot whose manifest was never written (a crash mid-write): found when
# the state topic is read, deleted with partition 0's next snapshot.
printf 'events/0/1-1/0\tstale\n' | kcat -P -b "$boot" -t g.state -K $'\t' 2>>"$tmp/kcat.err"

serve() {  # serve LOG [OPTION...]: a member of group g in the background. A short session
  # timeout: a member killed with SIGKILL is noticed gone in seconds, not 45 s.
  "$cdr" serve --live draft --rules "$src/rules" --source "kafka:$boot/events" --group g --routing "$tmp/routing" \
    --commit-every 200ms --state-every 500ms --progress --kafka-option log_level=3 --emit eager \
    --kafka-option session.timeout.ms=6000 "${@:2}" 2>"$1" &
  pids+=($!)
  serve_pid=$!
}
wait_committed() {  # wait_committed LOG N: until the group has committed N messages (60 s at most)
  for _ in $(seq 1 1200); do
    grep -q "(total $2)" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "serve did not commit $2 messages: $(grep -o 'committed offsets.*' "$1" | tail -1)"
  tail -5 "$1"
}

serve "$tmp/serve1.err"
wait_committed "$tmp/serve1.err" "$total1"
expect_text "assigned all three partitions" "$tmp/serve1.err" "partitions assigned: events[0], events[1], events[2]"
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null

kcat -P -b "$boot" -t events -K $'\t' -l "$tmp/part2.tsv" 2>>"$tmp/kcat.err"
for p in 0 1 2; do
  sed -n "$((p + 1))p" "$tmp/sentinels.ndjson" | key | kcat -P -b "$boot" -t events -p "$p" -K $'\t' 2>>"$tmp/kcat.err"
done
serve "$tmp/serve2.err" --admin 0 --idle-timeout 1s
wait_committed "$tmp/serve2.err" "$total"
# Partitions 1 and 2 fall quiet; partition 0 goes on to 17:30. The reported stream time
# follows it: a partition quiet longer than --idle-timeout holds nothing back.
sleep 1.5
printf 'sentinel-0\t%s\n' "$late0" | kcat -P -b "$boot" -t events -p 0 -K $'\t' 2>>"$tmp/kcat.err"
total=$((total + 1))
wait_committed "$tmp/serve2.err" "$total"
port=$(grep -o 'admin endpoint on http://127.0.0.1:[0-9]*' "$tmp/serve2.err" | grep -o '[0-9]*$')
code=$(curl -s -o "$tmp/health" -w '%{http_code}' "http://127.0.0.1:$port/health")
check "GET /health of a member holding partitions: 200" 200 "$code"
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
expect_text "/metrics counts every message of the partitions (a restored state's included)" "$tmp/metrics" \
  "cdr_events_read_total{source=\"kafka:$boot/events\"} $total"
expect_text "/metrics counts the state snapshots as checkpoints" "$tmp/metrics" "cdr_checkpoint_age_seconds"
grep -Eq '^cdr_event_to_alert_latency_seconds_count [1-9]' "$tmp/metrics" && ok ||
  fail "/metrics must time the messages that made alerts: $(grep latency_seconds_count "$tmp/metrics")"
expect_text "the stream time is the active partition's (2000-01-01T17:30:00Z)" "$tmp/metrics" \
  "cdr_stream_time_seconds 946747800.000"
expect_text "state snapshots were written" "$tmp/serve1.err" "written to g.state"
expect_text "the restart restores each partition's state" "$tmp/serve2.err" "(state restored at offset"
expect_text "a chunk of no snapshot is found" "$tmp/serve1.err" \
  "1 chunks of events[0] in g.state belong to no snapshot in use: deleted with the partition's next snapshot"
kcat -C -b "$boot" -t g.state -e -q -f '%k %S\n' 2>>"$tmp/kcat.err" >"$tmp/state-keys"
expect_text "the chunk of no snapshot is deleted (a tombstone)" "$tmp/state-keys" "events/0/1-1/0 -1"
kill -TERM "$serve_pid"
wait "$serve_pid"
check "serve stopped by SIGTERM exits 0" 0 $?
expect_text "the stop is said" "$tmp/serve2.err" "stopped by SIGTERM; offsets committed"
expect_text "replayed messages are not produced again" "$tmp/serve2.err" "already delivered before a restart"

consume events.alerts >"$tmp/alerts.default"
consume paging >"$tmp/alerts.paging"
consume events.dead-letter >"$tmp/dead"
# Eager emission on both: a live stream never ends, so under settled emission the last
# points of each partition wait for its stream to pass them, where cdr run decides them
# at the end of its input.
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/run.ndjson" --out "$tmp/run.alerts" --emit eager 2>"$tmp/run.err"
check "cdr run on the same events" 0 $?

final "$tmp/alerts.default" "$tmp/alerts.paging" >"$tmp/final.kafka"
final "$tmp/run.alerts" >"$tmp/final.run"
same_final "after a SIGKILL and a restart" "$tmp/final.kafka" "$tmp/final.run"
[ -s "$tmp/alerts.paging" ] && ok || fail "no high alert reached the paging topic"
if grep -q '"severity":"high"' "$tmp/alerts.default"; then fail "a high alert went to the default topic"; else ok; fi
if grep -vq '"severity":"high"' "$tmp/alerts.paging"; then fail "an alert not high went to the paging topic"; else ok; fi
expect_text "a wrongly keyed message is dead-lettered" "$tmp/dead" 'the message key \"not-the-patient\" is not the event'"'"'s patient'
expect_text "a dead letter names its partition and offset" "$tmp/dead" '"partition":'
expect_text "a line that is not JSON is dead-lettered" "$tmp/dead" '"input":"not json"'

# Other options (another identity): the snapshots are not used; each partition is
# replayed from its beginning to where the group committed, and nothing of it is
# produced again (the final alerts above stay as they are).
serve "$tmp/serve3.err" --allowed-lateness 12h
for p in 0 1 2; do
  last=$(grep -o "state of events\[$p\] at offset [0-9]*" "$tmp/serve2.err" | tail -1)
  for _ in $(seq 1 1200); do  # 60 s: joining the group takes seconds
    grep -qF -- "$last" "$tmp/serve3.err" && break
    sleep 0.05
  done
  expect_text "the replay of partition $p reaches where serve stopped" "$tmp/serve3.err" "$last"
done
kill -TERM "$serve_pid"
wait "$serve_pid"
expect_text "a snapshot of other options is not used" "$tmp/serve3.err" \
  "was written with other rules or options: replayed instead"
expect_text "the replay goes to the committed offsets" "$tmp/serve3.err" "(replaying to offset"
expect_text "a replay of what was delivered produces nothing" "$tmp/serve3.err" "(0 sent to Kafka,"
consume events.alerts >"$tmp/alerts.default"
consume paging >"$tmp/alerts.paging"
final "$tmp/alerts.default" "$tmp/alerts.paging" >"$tmp/final.kafka3"
cmp -s "$tmp/final.kafka3" "$tmp/final.run" && ok || fail "after the replay the final alerts differ from cdr run's"

# Hot reload with a Kafka source: a rule added to the rules directory is swapped into every
# partition's engine (its alerts over the kept history marked backfill); a broken rule is
# refused and the running rules go on. (Its own group and alerts topic.)
cp -r "$src/rules" "$tmp/rules"
"$cdr" serve --live draft --rules "$tmp/rules" --source "kafka:$boot/events" --group hot --alerts-topic hot.alerts \
  --state-topic hot.state --state-every 1s --commit-every 200ms --progress --kafka-option log_level=3 \
  --kafka-option session.timeout.ms=6000 2>"$tmp/hot.err" &
pids+=($!)
hot_pid=$!
wait_committed "$tmp/hot.err" "$total"
sleep 1.5  # every partition's state is written, and nothing comes after it
cp "$src/tests/data/rules/tachycardia.cdr" "$tmp/rules/tachycardia.cdr"
expect_text_soon "a rule added is swapped in" "$tmp/hot.err" "rules reloaded (rules changed: tachycardia.cdr)"
expect_text "the reload names the rule added" "$tmp/hot.err" "added tachycardia; removed none"
# Every partition's state is written with the new rules at the next commit, even those
# that read nothing since their last snapshot.
for _ in $(seq 1 200); do
  [ "$(sed -n '/rules reloaded/,$p' "$tmp/hot.err" | grep -c 'state of events\[[0-2]\] at offset')" -ge 3 ] && break
  sleep 0.05
done
[ "$(sed -n '/rules reloaded/,$p' "$tmp/hot.err" | grep -c 'state of events\[[0-2]\] at offset')" -ge 3 ] && ok ||
  fail "after a reload every partition's state must be written with the new rules"
echo 'rule broken version' >"$tmp/rules/broken.cdr"
expect_text_soon "a broken rule is refused" "$tmp/hot.err" "reload refused (rules changed: broken.cdr)"
kill -TERM "$hot_pid"
wait "$hot_pid"
check "serve after reloads: SIGTERM exits 0" 0 $?
consume hot.alerts >"$tmp/hot.alerts"
grep '"rule":"tachycardia"' "$tmp/hot.alerts" | grep -q '"backfill":true' && ok ||
  fail "the rule added must write its alerts over the kept history, marked backfill"

# Shadow over Kafka: the shipped rules are in review, so with the default policy (live
# approved) and --shadow TOPIC every alert goes to TOPIC, marked "shadow":true, and none
# to the alerts topic; the shadow alerts are cdr run's. (Its own group and topics.)
"$cdr" serve --rules "$src/rules" --source "kafka:$boot/events" --group shadowg --alerts-topic shadowg.alerts \
  --shadow shadowg.shadow --state-topic none --commit-every 200ms --progress --kafka-option log_level=3 --emit eager \
  2>"$tmp/shadow.err" &
pids+=($!)
shadow_pid=$!
wait_committed "$tmp/shadow.err" "$total"
kill -TERM "$shadow_pid"
wait "$shadow_pid"
check "serve with a shadow topic" 0 $?
consume shadowg.shadow >"$tmp/shadow.alerts"
consume shadowg.alerts >"$tmp/shadow.routed" 2>/dev/null
[ ! -s "$tmp/shadow.routed" ] && ok || fail "a rule in shadow reached the alerts topic"
[ "$(grep -c '"shadow":true' "$tmp/shadow.alerts")" = "$(wc -l <"$tmp/shadow.alerts")" ] && ok ||
  fail "every alert on the shadow topic is marked shadow"
sed 's/"shadow":true,//' "$tmp/shadow.alerts" >"$tmp/shadow.unmarked"
final "$tmp/shadow.unmarked" >"$tmp/final.shadow"
same_final "the shadow topic" "$tmp/final.shadow" "$tmp/final.run"

# A broker that refuses the alerts' writes for good: intake stops, exit 2 naming the topic.
# (A new group: it replays the topic from the start, so it has alerts to produce.)
echo "produce-errors 1000" >&9
timeout 120 "$cdr" serve --live draft --rules "$src/rules" --source "kafka:$boot/events" --group refused \
  --kafka-option log_level=0 2>"$tmp/refused.err"
check "a delivery refused for good: exit 2" 2 $?
expect_text "the failed delivery names its topic" "$tmp/refused.err" \
  "cannot produce to Kafka topic events.alerts: Broker: Topic authorization failed"

# Bad usage: no group; a file output with a Kafka source; a bad routing line.
"$cdr" serve --live draft --rules "$src/rules" --source "kafka:$boot/events" 2>"$tmp/err"
check "no --group: exit 2" 2 $?
expect_text "no --group says so" "$tmp/err" "needs --group ID"
"$cdr" serve --live draft --rules "$src/rules" --source "kafka:$boot/events" --group g --out "$tmp/x" 2>"$tmp/err"
check "--out with kafka: exit 2" 2 $?
printf '* urgent paging\n' >"$tmp/bad-routing"
"$cdr" serve --live draft --rules "$src/rules" --source "kafka:$boot/events" --group g --routing "$tmp/bad-routing" 2>"$tmp/err"
check "a bad routing file: exit 2" 2 $?
expect_text "a bad routing line is named" "$tmp/err" "bad-routing:1: \`urgent\` is not a severity"

echo "kafka_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
