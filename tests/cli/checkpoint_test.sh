#!/usr/bin/env bash
# tests/cli/checkpoint_test.sh: `cdr run --checkpoint` as an operator meets it. Killed with
# SIGKILL at 20 random instants and started again each time, the run's outputs (alerts,
# trace, dead letters, late events) are byte-identical to those of a run never
# interrupted; so after SIGTERM and a restart, and after a checkpoint that could not be
# written (a full disk); a checkpoint of other rules, options or input is refused, and
# so is a corrupt one.
# Usage: checkpoint_test.sh PATH/TO/cdr PATH/TO/cdr_gen_stream SOURCE_DIR
set -uo pipefail
cdr="$1"
gen="$2"
src="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
same_outputs() {  # same_outputs NAME PREFIX: PREFIX.{alerts,trace,dead,late} equal the uninterrupted run's
  local name="$1" prefix="$2" f
  for f in alerts trace dead late; do
    if cmp -s "$tmp/whole.$f" "$prefix.$f"; then ok; else
      fail "$name: $f differs from the uninterrupted run's ($(wc -l <"$tmp/whole.$f") and $(wc -l <"$prefix.$f") lines)"
      diff "$tmp/whole.$f" "$prefix.$f" | head -4
    fi
  done
}

# A feed as hospitals send it: 400 patients, events out of order (every 40th line 25
# lines late), duplicated (every 150th line twice), and malformed (every 997th line cut).
"$gen" 400 80000 11 | awk '
  NR % 997 == 0 { print substr($0, 1, length($0) / 2); next }
  NR % 40 == 0 { held[NR + 25] = $0; next }
  { print }
  NR % 150 == 0 { print }
  (NR in held) { print held[NR]; delete held[NR] }
  END { for (k in held) print held[k] }' >"$tmp/in.ndjson"
run_args=(--rules "$src/rules" --allowed-lateness 6h)
outputs() { echo --out "$1.alerts" --trace "$1.trace" --dead-letter "$1.dead" --late "$1.late"; }

"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/whole") 2>"$tmp/whole.err"
check "uninterrupted run" 0 $?
[ "$(grep -c '"action":"fire"' "$tmp/whole.alerts")" -gt 100 ] && ok || fail "the feed must make alerts"
[ -s "$tmp/whole.dead" ] && ok || fail "the feed must have dead letters"

# SIGKILL at 20 random instants, each on a restarted run, then to the end. The instants
# are drawn from the length of a checkpointed run, measured here (a sanitizer build is
# slower), so that the kills land all over the input.
start=$(date +%s%N)
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/timed") --checkpoint "$tmp/cp-timed" \
  --checkpoint-every 500 2>/dev/null
check "a checkpointed run" 0 $?
same_outputs "with checkpoints, uninterrupted" "$tmp/timed"
run_ms=$((($(date +%s%N) - start) / 1000000))
# What a start costs (compiling the rules) before the first event: every restart pays it.
# (The interpreter: native code is compiled beside the events, and waited for only at the end.)
: >"$tmp/empty.ndjson"
start=$(date +%s%N)
"$cdr" run --live draft "${run_args[@]}" --engine interp --events "$tmp/empty.ndjson" --out "$tmp/empty.alerts" 2>/dev/null
start_ms=$((($(date +%s%N) - start) / 1000000))
work_ms=$((run_ms > start_ms ? run_ms - start_ms : 1))
landed=0
for i in $(seq 1 20); do
  "$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/killed") --checkpoint "$tmp/cp" \
    --checkpoint-every 500 2>>"$tmp/killed.err" &
  pid=$!
  ms=$((start_ms + RANDOM % (work_ms / 10 + 1)))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then landed=$((landed + 1)); fi
  wait "$pid" 2>/dev/null
done
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/killed") --checkpoint "$tmp/cp" \
  --checkpoint-every 500 2>>"$tmp/killed.err"
check "the run after 20 kills" 0 $?
[ "$landed" -ge 10 ] && ok || fail "only $landed of the 20 kills landed while the run was working"
same_outputs "killed 20 times with SIGKILL" "$tmp/killed"
expect_text "a restart says where it continues" "$tmp/killed.err" "continuing from the checkpoint in $tmp/cp"
resumed=$(grep -o 'continuing from the checkpoint in [^:]*: [0-9]*' "$tmp/killed.err" | sort -u | wc -l)
[ "$resumed" -ge 8 ] && ok || fail "the kills must land all over the input: the runs continued from $resumed points"
echo "checkpoint test: $landed kills landed, runs continued from $resumed distinct checkpoints"

# A finished run's checkpoint: nothing to do, nothing touched.
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/killed") --checkpoint "$tmp/cp" 2>"$tmp/err"
check "a finished checkpoint" 0 $?
expect_text "a finished checkpoint says so" "$tmp/err" "read its input to the end: nothing is left to do"
same_outputs "after a finished checkpoint" "$tmp/killed"

# The same through a pipe: SIGTERM stops at an event, checkpoints, exits 0; the producer
# replays its stream from the start and the run continues where it stopped.
mkfifo "$tmp/feed"
(head -c 2000000 "$tmp/in.ndjson"; sleep 30) >"$tmp/feed" &
producer=$!
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/feed" $(outputs "$tmp/piped") --checkpoint "$tmp/cp2" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/piped.alerts" ] && break
  sleep 0.05
done
sleep 0.3
kill -TERM "$pid"
wait "$pid"
check "SIGTERM with a checkpoint" 0 $?
kill "$producer" 2>/dev/null
wait "$producer" 2>/dev/null
expect_text "SIGTERM says the checkpoint is written" "$tmp/err" "checkpoint written: the same command continues from there"
"$cdr" run --live draft "${run_args[@]}" $(outputs "$tmp/piped") --checkpoint "$tmp/cp2" <"$tmp/in.ndjson" 2>"$tmp/err"
check "continued from stdin after SIGTERM" 0 $?
same_outputs "SIGTERM, then the stream replayed on stdin" "$tmp/piped"

# Refusals: other options, other rules, another input, a corrupt checkpoint, stdout.
"$gen" 400 80000 11 | head -c 3000000 >"$tmp/short.ndjson"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/short.ndjson" $(outputs "$tmp/r") --checkpoint "$tmp/cp3" 2>"$tmp/err"
check "a run to refuse against" 0 $?
rm -f "$tmp/cp3/checkpoint.tmp"
cp "$tmp/cp3/checkpoint" "$tmp/good-checkpoint"
# a checkpoint mid-input: SIGTERM at once is not reliable, so make one with a small interval and a kill
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/r") --checkpoint "$tmp/cp4" \
  --checkpoint-every 5000 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/cp4/checkpoint" ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$cdr" run --live draft --rules "$src/rules" --allowed-lateness 5h --events "$tmp/in.ndjson" $(outputs "$tmp/r") \
  --checkpoint "$tmp/cp4" 2>"$tmp/err"
check "other options" 2 $?
expect_text "other options named" "$tmp/err" "it has --allowed-lateness: 21600000 ms; this run has --allowed-lateness: 18000000 ms"
"$cdr" run --live draft --rules "$src/rules/news2.cdr" "$src/rules/schema" --allowed-lateness 6h --events "$tmp/in.ndjson" \
  $(outputs "$tmp/r") --checkpoint "$tmp/cp4" 2>"$tmp/err"
check "other rules" 2 $?
expect_text "other rules named" "$tmp/err" "written for other rules or options: it has rules: sha256:"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/short.ndjson" $(outputs "$tmp/r") --checkpoint "$tmp/cp4" 2>"$tmp/err"
check "another input" 2 $?
expect_text "another input named" "$tmp/err" "it is not the input the checkpoint was taken on"
printf 'x' | dd of="$tmp/cp4/checkpoint" bs=1 seek=100 conv=notrunc 2>/dev/null
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/r") --checkpoint "$tmp/cp4" 2>"$tmp/err"
check "a corrupt checkpoint" 2 $?
expect_text "a corrupt checkpoint named" "$tmp/err" "corrupt (its checksum does not match its content)"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" --checkpoint "$tmp/cp5" 2>"$tmp/err" >/dev/null
check "alerts to stdout with a checkpoint" 2 $?
expect_text "stdout refused" "$tmp/err" "--checkpoint needs --out to name a file"
[ ! -e "$tmp/cp5" ] && ok || fail "a refused run must not create its checkpoint directory"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/r") --checkpoint "$tmp/cp6" \
  --checkpoint-every soon 2>"$tmp/err"
check "a bad --checkpoint-every" 2 $?
# A checkpoint that cannot be written (its temporary file is on a full device): intake
# stops at once, exit 2, the file and the reason named; started again, the run ends with
# the outputs of a run never interrupted.
mkdir "$tmp/cp7"
ln -s /dev/full "$tmp/cp7/checkpoint.tmp"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/full") --checkpoint "$tmp/cp7" \
  --checkpoint-every 1000 2>"$tmp/err"
check "a checkpoint on a full disk" 2 $?
expect_text "the checkpoint's file and reason named" "$tmp/err" "cannot write checkpoint $tmp/cp7/checkpoint.tmp: No space left on device"
expect_text "intake stopped at the checkpoint" "$tmp/err" "stopped after event 1000, the rest of the input not read"
"$cdr" run --live draft "${run_args[@]}" --events "$tmp/in.ndjson" $(outputs "$tmp/full") --checkpoint "$tmp/cp7" \
  --checkpoint-every 1000 2>"$tmp/err"
check "started again after a full disk" 0 $?
same_outputs "after a checkpoint that could not be written" "$tmp/full"
[ "$(stat -c %a "$tmp/cp3")" = 700 ] && ok || fail "the checkpoint directory must be 0700"
[ "$(stat -c %a "$tmp/cp3/checkpoint")" = 600 ] && ok || fail "the checkpoint must be 0600"

echo "checkpoint tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
