# tests/cli/kafka_lib.sh: what the Kafka CLI tests share (sourced): their setup (a
# temporary directory, kept with KEEP=1; background processes killed at exit; kcat
# required), the mock cluster, keying events by patient for kcat, consuming a topic, and
# the final alert set.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# kafka_setup NAME: sets $tmp and the `pids` array (killed at exit, with the mock's stdin
# closed); exits when kcat is missing.
kafka_setup() {
  tmp=$(mktemp -d)
  [ -n "${KEEP:-}" ] && echo "$1: keeping $tmp"
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null; exec 9>&-; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
  if ! command -v kcat >/dev/null; then
    echo "$1: kcat is not installed (scripts/setup installs it)"
    exit 1
  fi
}

# start_mock MOCK TOPIC[:PARTITIONS]...: starts librdkafka's mock cluster and sets $boot
# to its bootstrap address. The cluster runs until the test's end closes its stdin (fd 9;
# `echo "produce-errors N" >&9` makes it refuse the next N writes).
start_mock() {
  mkfifo "$tmp/mock.in"
  "$@" <"$tmp/mock.in" >"$tmp/boot" 2>"$tmp/mock.err" &
  pids+=($!)
  exec 9>"$tmp/mock.in"
  for _ in $(seq 1 100); do
    [ -s "$tmp/boot" ] && break
    sleep 0.05
  done
  boot=$(head -1 "$tmp/boot")
  [ -n "$boot" ] || { fail "the mock cluster did not start: $(cat "$tmp/mock.err")"; exit 1; }
}

# Events on stdin, as kcat -K$'\t' reads them: KEY<TAB>VALUE, the key the event's patient.
key() { awk '{ match($0, /"patient":"[^"]*"/); print substr($0, RSTART + 11, RLENGTH - 12) "\t" $0 }'; }

# consume TOPIC: every message of the topic, as a consumer with read_committed reads it.
consume() { kcat -C -b "$boot" -t "$1" -e -q -f '%s\n' -X isolation.level=read_committed; }

# final ALERTS_FILE...: the final alerts by id (fires minus retractions, in each file's
# order; an alert and its retraction have one key: one topic, one partition), as JSON.
final() {
  python3 -c '
import json, sys
final = {}
for path in sys.argv[1:]:
    for line in open(path):
        a = json.loads(line)
        action = a.pop("action")
        if action == "fire":
            final[a["alert"]] = a
        else:
            final.pop(a["alert"], None)
print(json.dumps(final, sort_keys=True))
' "$@"
}

# same_final NAME KAFKA_FINAL RUN_FINAL: the two final sets are equal (else the first
# differing ids are shown), and hold enough alerts for the comparison to mean anything.
same_final() {
  if cmp -s "$2" "$3"; then ok; else
    fail "$1: the final alerts over Kafka differ from cdr run's"
    python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("only over Kafka:", sorted(set(a) - set(b))[:5], "only in cdr run:", sorted(set(b) - set(a))[:5],
      "different:", [k for k in a if k in b and a[k] != b[k]][:5])
' "$2" "$3"
  fi
  local n
  n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$3")
  [ "$n" -gt 20 ] && ok || fail "$1: too few alerts ($n) for the comparison to mean anything"
}
