#!/usr/bin/env bash
# tests/cli/serve_test.sh: `cdr serve` as an operator runs it. A followed file, rotated
# (renamed, its last line without '\n') and truncated in place (copytruncate), gives the
# outputs `cdr run` gives on the same events, byte for byte; a serve stopped with SIGTERM
# and started again continues from its checkpoint in the rotated file; the admin
# endpoint answers /health, /metrics and /rules (checked with curl); --clock wall fires an
# absence rule while the feed is quiet, --clock event does not; with --emit eager the last
# panel of a quiet feed alerts without waiting for a next line. Hot reload: a rule added
# to the rules directory is swapped in (inotify), its alerts over the kept history
# written as backfill, and the alerts end as those of the new rules run from the start; a
# set with a syntax error or a failing rule test is refused and the running rules go on;
# SIGHUP and POST /reload with nothing changed do nothing. A serve continued from its
# checkpoint keeps checkpointing across a rotation.
# Usage: serve_test.sh PATH/TO/cdr PATH/TO/cdr_gen_stream SOURCE_DIR
set -uo pipefail
cdr="$1"
gen="$2"
src="$3"
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
port_of() { announced_port "$1" 'admin endpoint on http://127.0.0.1:'; }  # port_of STDERR_FILE
metric() {  # metric PORT NAME: the value of the first sample of NAME
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" 'index($0, n) == 1 { print $2; exit }'
}
wait_read() {  # wait_read PORT N: until serve has read N events (20 s at most)
  for _ in $(seq 1 400); do
    [ "$(metric "$1" cdr_events_read_total)" = "$2" ] && return 0
    sleep 0.05
  done
  fail "serve did not read $2 events (it read $(metric "$1" cdr_events_read_total))"
}

"$gen" 200 30000 5 | awk 'NR % 500 == 0 { print substr($0, 1, 40); next } { print }' >"$tmp/in.ndjson"
sed -n '1,10000p' "$tmp/in.ndjson" >"$tmp/p1"
sed -n '10001,20000p' "$tmp/in.ndjson" >"$tmp/p2"
sed -n '20001,30000p' "$tmp/in.ndjson" >"$tmp/p3"
outputs() { echo --out "$1.alerts" --trace "$1.trace" --dead-letter "$1.dead" --late "$1.late"; }
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/in.ndjson" $(outputs "$tmp/whole") 2>/dev/null
check "cdr run on the whole feed" 0 $?

# A followed file: the first part without its last '\n', renamed away; the second in a
# new file, copied and cut in place; the third written into it.
head -c -1 "$tmp/p1" >"$tmp/feed"
"$cdr" serve --live draft --rules "$src/rules" --source "file:$tmp/feed" --admin 127.0.0.1:0 $(outputs "$tmp/served") \
  2>"$tmp/serve.err" &
pid=$!
pids+=("$pid")
port=$(port_of "$tmp/serve.err")
[ -n "$port" ] && ok || fail "serve must announce its admin port"
wait_read "$port" 9999  # the last line of the part has not ended yet
mv "$tmp/feed" "$tmp/feed.1"
cp "$tmp/p2" "$tmp/feed"
wait_read "$port" 20000
cp "$tmp/feed" "$tmp/feed.2"
: >"$tmp/feed"
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$port/metrics" | grep -q 'kind="truncated"} 1' && break
  sleep 0.05
done
cat "$tmp/p3" >>"$tmp/feed"
wait_read "$port" 30000

# The admin endpoint, while serve runs.
curl -s -o "$tmp/health" -w '%{http_code}' "http://127.0.0.1:$port/health" >"$tmp/code"
[ "$(cat "$tmp/code")" = 200 ] && ok || fail "/health must answer 200 when ready"
expect_text "/health" "$tmp/health" '{"live":true,"ready":true}'
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
for family in cdr_events_read_total cdr_events_used_total cdr_events_dead_lettered_total cdr_events_late_total \
  cdr_alerts_fired_total cdr_alerts_retracted_total cdr_event_to_alert_latency_seconds cdr_stream_time_seconds cdr_watermark_seconds cdr_watermark_lag_seconds \
  cdr_patients cdr_state_bytes cdr_checkpoints_total cdr_source_rotations_total; do
  expect_text "metric $family" "$tmp/metrics" "# TYPE $family"
done
expect_text "dead letters counted" "$tmp/metrics" "cdr_events_dead_lettered_total{source=\"file:$tmp/feed\"} 60"
expect_text "patients" "$tmp/metrics" "cdr_patients 200"
expect_text "rotations" "$tmp/metrics" 'kind="rotated"} 1'
fired=$(awk '/^cdr_alerts_fired_total/ { n += $2 } END { print n }' "$tmp/metrics")
[ "$fired" = "$(grep -c '"action":"fire"' "$tmp/served.alerts")" ] && ok ||
  fail "the fired counters ($fired) must count the alerts on the file"
[ "$(awk '/^cdr_event_to_alert_latency_seconds_count/ { print $2 }' "$tmp/metrics")" -gt 0 ] && ok ||
  fail "the latency histogram must count the events that made alerts"
curl -s "http://127.0.0.1:$port/rules" >"$tmp/rules.json"
[ "$(grep -c '"id":' "$tmp/rules.json")" = 8 ] && ok || fail "/rules must list the 8 shipped rules"
news2_hash=$(grep -o '"rule":"news2","version":"[^"]*","hash":"[^"]*"' "$tmp/served.alerts" | head -1 | grep -o 'sha256:[0-9a-f]*')
expect_text "/rules carries the hash alerts carry" "$tmp/rules.json" "$news2_hash"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")" = 404 ] && ok || fail "an unknown path is 404"
"$cdr" serve --live draft --rules "$src/rules" --admin "127.0.0.1:$port" --out "$tmp/x" </dev/null 2>"$tmp/err"
check "an admin port in use" 2 $?
expect_text "a port in use is named" "$tmp/err" "cannot listen on 127.0.0.1:$port"
"$cdr" serve --live draft --rules "$src/rules" --admin "localhost" --out "$tmp/x" </dev/null 2>"$tmp/err"
check "an admin address without a port" 2 $?
"$cdr" serve --live draft --rules "$src/rules" --admin 0 --out "$tmp/x" </dev/null 2>"$tmp/err"
check "an admin port alone" 0 $?
expect_text "a port alone binds the loopback address" "$tmp/err" "admin endpoint on http://127.0.0.1:"

kill -TERM "$pid"
wait "$pid"
check "serve stopped by SIGTERM" 0 $?
expect_text "the stop is reported" "$tmp/serve.err" "stopped by SIGTERM after event 30000"
expect_text "rotations are reported" "$tmp/serve.err" "was rotated 1 times and truncated 1 times while followed"
for f in alerts trace dead late; do
  if cmp -s "$tmp/whole.$f" "$tmp/served.$f"; then ok; else
    fail "followed across rotation: $f differs from cdr run's ($(wc -l <"$tmp/whole.$f") and $(wc -l <"$tmp/served.$f") lines)"
  fi
done

# With a checkpoint: stopped after a rotation, started again, it continues in the new file.
cp "$tmp/p1" "$tmp/feed"
"$cdr" serve --live draft --rules "$src/rules" --source "file:$tmp/feed" --admin 127.0.0.1:0 $(outputs "$tmp/cp") \
  --checkpoint "$tmp/cpdir" 2>"$tmp/serve2.err" &
pid=$!
pids+=("$pid")
port=$(port_of "$tmp/serve2.err")
wait_read "$port" 10000
mv "$tmp/feed" "$tmp/feed.1"
cp "$tmp/p2" "$tmp/feed"
wait_read "$port" 20000
kill -TERM "$pid"
wait "$pid"
check "serve with a checkpoint stopped by SIGTERM" 0 $?
expect_text "the checkpoint is written at the stop" "$tmp/serve2.err" "checkpoint written: the same command continues"
"$cdr" serve --live draft --rules "$src/rules" --source "file:$tmp/feed" --admin 127.0.0.1:0 $(outputs "$tmp/cp") \
  --checkpoint "$tmp/cpdir" 2>"$tmp/serve3.err" &
pid=$!
pids+=("$pid")
port=$(port_of "$tmp/serve3.err")
expect_text_soon "the restart continues" "$tmp/serve3.err" "continuing from the checkpoint in $tmp/cpdir: 20000 events"
cat "$tmp/p3" >>"$tmp/feed"
wait_read "$port" 30000
kill -TERM "$pid"
wait "$pid"
check "the restarted serve stopped by SIGTERM" 0 $?
# Stopped, not ended: the points still open at the end are not decided (nor traced: a
# point is traced once final, 24 h of lateness after it), so the outputs are the
# uninterrupted run's up to them.
for f in alerts trace; do
  size=$(stat -c %s "$tmp/cp.$f")
  least=$([ "$f" = alerts ] && echo $(($(stat -c %s "$tmp/whole.$f") * 9 / 10)) || echo 1000)
  if [ "$size" -gt "$least" ] && cmp -s -n "$size" "$tmp/cp.$f" "$tmp/whole.$f"; then ok; else
    fail "stopped and continued across a rotation: $f is not the uninterrupted run's up to the stop ($size of" \
      "$(stat -c %s "$tmp/whole.$f") bytes; $(cmp "$tmp/cp.$f" "$tmp/whole.$f" 2>&1 | head -1))"
  fi
done
cmp -s "$tmp/cp.dead" "$tmp/whole.dead" && ok || fail "stopped and continued: the dead letters differ"

# Hot reload. The rules are a copy, changed while serve runs.
cp -r "$src/rules" "$tmp/rules"
sed -n '1,10000p' "$tmp/in.ndjson" >"$tmp/feed"
"$cdr" serve --live draft --rules "$tmp/rules" --source "file:$tmp/feed" --admin 127.0.0.1:0 $(outputs "$tmp/hot") \
  --checkpoint "$tmp/hotcp" 2>"$tmp/hot.err" &
pid=$!
pids+=("$pid")
port=$(port_of "$tmp/hot.err")
wait_read "$port" 10000
reload_result() {  # reload_result PORT N: waits until the reload counters sum to N, prints the last outcome
  for _ in $(seq 1 200); do
    n=$(curl -s "http://127.0.0.1:$1/metrics" | awk '/^cdr_reloads_total/ { n += $2 } END { print n + 0 }')
    [ "$n" -ge "$2" ] && break
    sleep 0.05
  done
  curl -s "http://127.0.0.1:$1/reload"
}
cp "$src/tests/data/rules/tachycardia.cdr" "$tmp/rules/tachycardia.cdr"
reload_result "$port" 1 >"$tmp/reload1"
expect_text "a rule added is swapped in" "$tmp/reload1" '"result":"done"'
expect_text "the reload is logged" "$tmp/hot.err" "rules reloaded (rules changed: tachycardia.cdr): kept critical_values"
expect_text "the reload names the rule added" "$tmp/hot.err" "added tachycardia; removed none"
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics1"
expect_text "a checkpoint of the new rules at once" "$tmp/metrics1" "cdr_checkpoints_total 1"
curl -s "http://127.0.0.1:$port/rules" >"$tmp/rules-after.json"
[ "$(grep -c '"id":' "$tmp/rules-after.json")" = 9 ] && ok || fail "/rules must list 9 rules after the reload"
# A syntax error, then a failing rule test: refused, the running set unchanged.
echo 'rule broken version' >"$tmp/rules/broken.cdr"
reload_result "$port" 2 >"$tmp/reload2"
expect_text "a set with an error is refused" "$tmp/reload2" '"result":"refused"'
expect_text "the refusal names the error" "$tmp/hot.err" "reload refused (rules changed: broken.cdr): 1 errors in the rules; the first: $tmp/rules/broken.cdr:1:"
rm "$tmp/rules/broken.cdr"
reload_result "$port" 3 >/dev/null  # the set without it: the running one, nothing to do
sed 's/expect alert medium at 0h/expect no alert at 0h/' "$src/tests/data/rules/tachycardia.cdr" >"$tmp/rules/tachycardia.cdr"
reload_result "$port" 4 >"$tmp/reload4"
expect_text "a set whose rule test fails is refused" "$tmp/reload4" '"result":"refused"'
expect_text "the refusal names the test" "$tmp/hot.err" "1 of"
expect_text "the refusal names the test" "$tmp/hot.err" "FAIL tachycardia: a fast heart fires"
cp "$src/tests/data/rules/tachycardia.cdr" "$tmp/rules/tachycardia.cdr"  # back to the running set
reload_result "$port" 5 >/dev/null
# A schema change that takes events from running rules (a temperature code removed): refused.
cp "$tmp/rules/schema/vitals.cdr" "$tmp/vitals.cdr"
sed -i 's/codes loinc "8310-5", "8331-1"/codes loinc "8310-5"/' "$tmp/rules/schema/vitals.cdr"
reload_result "$port" 6 >"$tmp/reload-schema"
expect_text "a schema change that breaks running rules is refused" "$tmp/reload-schema" '"result":"refused"'
expect_text "the refusal names the change and the rules" "$tmp/hot.err" \
  '1 schema changes break running rules; the first: vitals.temp: code loinc "8331-1" removed: its events go to the dead letter (read by news2, sirs)'
cp "$tmp/vitals.cdr" "$tmp/rules/schema/vitals.cdr"
reload_result "$port" 7 >/dev/null
kill -HUP "$pid"
reload_result "$port" 8 >"$tmp/reload6"
expect_text "SIGHUP with nothing changed" "$tmp/reload6" '"reason":"SIGHUP","result":"unchanged"' 
[ "$(curl -s -o /dev/null -w '%{http_code}' -d '' "http://127.0.0.1:$port/reload")" = 202 ] && ok || fail "POST /reload is 202"
reload_result "$port" 9 >"$tmp/reload7"
expect_text "POST /reload" "$tmp/reload7" '"reason":"POST /reload"'
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/metrics2"
expect_text "reloads counted" "$tmp/metrics2" 'cdr_reloads_total{result="done"} 1'
expect_text "refusals counted" "$tmp/metrics2" 'cdr_reloads_total{result="refused"} 3'
expect_text "the new rule in the metrics" "$tmp/metrics2" 'cdr_alerts_fired_total{rule="tachycardia",severity="medium"}'
sed -n '10001,30000p' "$tmp/in.ndjson" >>"$tmp/feed"
wait_read "$port" 30000
kill -9 "$pid"
wait "$pid" 2>/dev/null
# Killed, then started again with the rules now on disk: the checkpoint is theirs. The
# feed replayed on stdin (the bytes before the checkpoint's offset are skipped) to its
# end, where the open points are decided as cdr run decides them.
"$cdr" serve --live draft --rules "$tmp/rules" $(outputs "$tmp/hot") --checkpoint "$tmp/hotcp" <"$tmp/feed" 2>"$tmp/hot2.err"
check "serve after a reload, killed, started again to the end of its input" 0 $?
expect_text "the restart after a reload continues" "$tmp/hot2.err" "continuing from the checkpoint in $tmp/hotcp"
grep -q '"backfill":true' "$tmp/hot.alerts" && ok || fail "the added rule's alerts over the kept history are backfill"
"$cdr" run --live draft --rules "$tmp/rules" --events "$tmp/in.ndjson" --out "$tmp/hot-b.alerts" 2>/dev/null
final() {  # final FILE: the final alerts (fires minus retractions), without the backfill mark, sorted
  python3 - "$1" <<'PY'
import json, sys
final = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    action = a.pop("action")
    a.pop("backfill", None)
    if action == "fire":
        final[a["alert"]] = json.dumps(a, sort_keys=True)
    else:
        final.pop(a["alert"], None)
print("\n".join(sorted(final.values())))
PY
}
final "$tmp/hot.alerts" >"$tmp/hot.final"
final "$tmp/hot-b.alerts" >"$tmp/hot-b.final"
if cmp -s "$tmp/hot.final" "$tmp/hot-b.final"; then ok; else
  fail "after a reload that adds a rule, the final alerts must be those of the new set run from the start"
  diff "$tmp/hot.final" "$tmp/hot-b.final" | head -4
fi

# --clock wall: a NEWS2 of 6 thirteen hours ago and no respiratory rate since; the feed
# then stays quiet. The wall clock passes the 12 h of overdue_observations: an alert,
# before the input ends. With the event clock, none while the feed is quiet.
t0=$(date -u -d '-13 hours' +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' \
  "{\"id\":\"rr\",\"patient\":\"w1\",\"time\":\"$t0\",\"signal\":\"resp_rate\",\"value\":25,\"unit\":\"/min\"}" \
  "{\"id\":\"hr\",\"patient\":\"w1\",\"time\":\"$t0\",\"signal\":\"heart_rate\",\"value\":131,\"unit\":\"/min\"}" \
  >"$tmp/quiet.ndjson"
for clock in wall event; do
  mkfifo "$tmp/quiet.$clock"
  "$cdr" serve --live draft --rules "$src/rules" --clock "$clock" --out "$tmp/quiet.$clock.alerts" <"$tmp/quiet.$clock" \
    2>"$tmp/quiet.$clock.err" &
  pid=$!
  pids+=("$pid")
  exec 7>"$tmp/quiet.$clock"
  cat "$tmp/quiet.ndjson" >&7
  for _ in $(seq 1 60); do
    grep -q overdue_observations "$tmp/quiet.$clock.alerts" 2>/dev/null && break
    sleep 0.1
  done
  if [ "$clock" = wall ]; then
    expect_text "--clock wall fires an absence rule on a quiet feed" "$tmp/quiet.$clock.alerts" '"rule":"overdue_observations"'
  else
    grep -q overdue_observations "$tmp/quiet.$clock.alerts" && fail "--clock event must not move while the feed is quiet" || ok
  fi
  exec 7>&-
  wait "$pid"
  check "serve --clock $clock at the end of stdin" 0 $?
done

# --emit eager on a quiet feed: the last panel (a patient's events of one time) is
# applied once the feed has been idle a second, without waiting for a next line: its
# critical alert is written while the feed stays open and quiet. (Two patients: the
# stream clock holds a first event until another patient's corroborates its time.)
mkfifo "$tmp/eager.fifo"
"$cdr" serve --live draft --rules "$src/rules" --emit eager --out "$tmp/eager.alerts" <"$tmp/eager.fifo" 2>"$tmp/eager.err" &
pid=$!
pids+=("$pid")
exec 7>"$tmp/eager.fifo"
printf '{"id":"h0","patient":"q0","time":"%s","signal":"heart_rate","value":70,"unit":"/min"}\n' "$t0" >&7
printf '{"id":"k1","patient":"q1","time":"%s","signal":"potassium","value":6.5,"unit":"mmol/L"}\n' "$t0" >&7
expect_text_soon "a quiet feed's last panel alerts (eager)" "$tmp/eager.alerts" '"severity":"critical"'
exec 7>&-
wait "$pid"
check "serve --emit eager at the end of stdin" 0 $?

# A serve continued from its checkpoint, whose file is then rotated: the checkpoints in
# the new file are taken at the right offset (they were taken past its end, and the
# serve stopped), and a third start continues in it.
hr() { printf '{"id":"%s","patient":"%s","time":"%s","signal":"heart_rate","value":135,"unit":"/min"}\n' "$1" "$1" "$t0"; }
rot() {  # rot NAME: a serve of the followed file $tmp/rot, checkpointing at every event
  "$cdr" serve --live draft --rules "$src/rules" --source "file:$tmp/rot" --emit eager --max-ahead off --checkpoint "$tmp/rot.ckpt" \
    --checkpoint-every 1 --out "$tmp/rot.alerts" 2>"$tmp/rot.$1.err" &
  pid=$!
  pids+=("$pid")
}
hr r1 >"$tmp/rot"
rot first
expect_text_soon "the first event alerts" "$tmp/rot.alerts" '"patient":"r1"'
kill -TERM "$pid"; wait "$pid"
rot second
expect_text_soon "the second serve continues from the checkpoint" "$tmp/rot.second.err" "continuing from the checkpoint"
mv "$tmp/rot" "$tmp/rot.1"
hr r2 >"$tmp/rot"
expect_text_soon "an event in the rotated-to file alerts" "$tmp/rot.alerts" '"patient":"r2"'
kill -TERM "$pid"; wait "$pid"; check "the second serve stops cleanly after the rotation" 0 $?
expect_text "with a checkpoint" "$tmp/rot.second.err" "checkpoint written: the same command continues from there"
rot third
hr r3 >>"$tmp/rot"
expect_text_soon "a third serve continues in the new file" "$tmp/rot.alerts" '"patient":"r3"'
kill -TERM "$pid"; wait "$pid"
[ "$(wc -l <"$tmp/rot.alerts")" = 3 ]; check "each alert once across the three" 0 $?

echo "serve tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
