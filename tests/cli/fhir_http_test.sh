#!/usr/bin/env bash
# tests/cli/fhir_http_test.sh: `cdr serve --source http:` receiving FHIR R4 with curl: a
# subscription notification (an R4 backport `history` Bundle) is stored and answered 200
# with an OperationOutcome, and its Observation alerts; not JSON 400, another content type
# 415, nothing usable 422 (stored: dead-lettered), a journal that cannot be written 503
# with Retry-After, a body over 64 MiB 413; kill -9 and a restart with the journal and
# checkpoint: each alert once.
# Usage: fhir_http_test.sh PATH/TO/cdr SOURCE_DIR
set -uo pipefail
cdr="$1"
src="$2"
tmp=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

http_port() { announced_port "$1" 'FHIR on http://127.0.0.1:'; }  # http_port STDERR_FILE
start() {  # start NAME: serve on a free port; sets pid and port
  "$cdr" serve --live draft --rules "$src/rules" --source http:127.0.0.1:0 --journal "$tmp/journal.ndjson" --emit eager \
    --max-ahead off --checkpoint "$tmp/ckpt" --checkpoint-every 1 --out "$tmp/alerts.ndjson" \
    --dead-letter "$tmp/dead.ndjson" --late "$tmp/late.ndjson" 2>"$tmp/$1.err" &
  pid=$!
  pids+=("$pid")
  port=$(http_port "$tmp/$1.err")
}
post() {  # post FILE [CONTENT_TYPE]: prints the status, the body to $tmp/body
  curl -s -o "$tmp/body" -w '%{http_code}' -H "Content-Type: ${2:-application/fhir+json}" --data-binary "@$1" \
    "http://127.0.0.1:$port/notify"
}
observation() {  # observation ID PATIENT HR [STATUS]
  printf '{"resourceType":"Observation","id":"%s","status":"%s","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-01-01T10:00:00Z","valueQuantity":{"value":%s,"system":"http://unitsofmeasure.org","code":"/min"}}' \
    "$1" "${4:-final}" "$2" "$3"
}
notification() {  # notification ID PATIENT HR: an R4 backport notification Bundle
  printf '{"resourceType":"Bundle","type":"history","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Parameters","parameter":[{"name":"type","valueCode":"event-notification"}]}},{"fullUrl":"Observation/%s","resource":%s,"request":{"method":"POST","url":"Observation"},"response":{"status":"201"}}]}\n' \
    "$1" "$(observation "$1" "$2" "$3")"
}

start first
[ -n "$port" ] && ok || fail "serve must announce its HTTP port"
notification o1 p1 135 >"$tmp/n1"
[ "$(post "$tmp/n1")" = 200 ]; check "a notification is stored: 200" 0 $?
expect_text "its OperationOutcome says what was stored" "$tmp/body" '"diagnostics":"stored: 1 events, 0 parts refused (dead-lettered), 1 with nothing a rule reads"'
expect_text "as information" "$tmp/body" '"severity":"information"'
expect_text "the journal holds it" "$tmp/journal.ndjson" '"id":"o1"'
expect_text_soon "its alert is written (HR 135: NEWS2 single red)" "$tmp/alerts.ndjson" '"patient":"p1"'
printf '{"resourceType":' >"$tmp/bad"
[ "$(post "$tmp/bad")" = 400 ]; check "not JSON: 400" 0 $?
expect_text "with the reason" "$tmp/body" '"code":"structure"'
grep -q '"resourceType":$' "$tmp/journal.ndjson" && fail "a body that is not JSON must not be stored" || ok
[ "$(post "$tmp/n1" text/plain)" = 415 ]; check "another content type: 415" 0 $?
# A body over 64 MiB: 413 (cpp-httplib's payload limit), not stored.
head -c $((64 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$tmp/huge"
before=$(wc -c <"$tmp/journal.ndjson")
[ "$(post "$tmp/huge")" = 413 ]; check "a body over 64 MiB: 413" 0 $?
rm -f "$tmp/huge"
[ "$(wc -c <"$tmp/journal.ndjson")" = "$before" ]; check "and it is not stored" 0 $?
observation o2 p2 80 registered >"$tmp/reg"
[ "$(post "$tmp/reg")" = 422 ]; check "nothing usable: 422" 0 $?
expect_text "422 says why" "$tmp/body" 'status `registered`: no result yet'
expect_text_soon "and it is dead-lettered" "$tmp/dead.ndjson" 'status `registered`: no result yet'

# kill -9; a restart with the journal and checkpoint: each alert once, the new one too.
kill -9 "$pid"; wait "$pid" 2>/dev/null
start second
notification o3 p3 140 >"$tmp/n3"
[ "$(post "$tmp/n3")" = 200 ]; check "the restarted serve stores" 0 $?
expect_text_soon "its alert is written" "$tmp/alerts.ndjson" '"patient":"p3"'
sleep 0.5
[ "$(grep -c '"patient":"p1"' "$tmp/alerts.ndjson")" = 1 ]; check "the first alert once across the kill" 0 $?
kill -TERM "$pid"; wait "$pid"; check "serve stops on SIGTERM" 0 $?
expect_text "the summary counts the requests" "$tmp/second.err" "FHIR over HTTP: 1 requests: 1 stored (200), 0 refused"

# A journal that cannot be written (a file size limit of 2 KiB): 503 with Retry-After,
# nothing of it left in the journal; the next that fits is stored.
(ulimit -f 2; exec "$cdr" serve --live draft --rules "$src/rules" --source http:127.0.0.1:0 --journal "$tmp/small.ndjson" \
  --emit eager --max-ahead off --out "$tmp/small.alerts" 2>"$tmp/small.err") &
pid=$!
pids+=("$pid")
port=$(http_port "$tmp/small.err")
{ printf '{"resourceType":"Bundle","type":"collection","entry":['; for i in $(seq 1 20); do printf '%s{"resource":%s}' "$([ "$i" = 1 ] || echo ,)" "$(observation "big$i" p4 120)"; done; printf ']}\n'; } >"$tmp/big"
[ "$(curl -s -D "$tmp/headers" -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/fhir+json' --data-binary "@$tmp/big" "http://127.0.0.1:$port/")" = 503 ]
check "not stored: 503" 0 $?
expect_text "with Retry-After" "$tmp/headers" "Retry-After: 1"
expect_text "saying to send it again" "$tmp/body" "send it again"
notification o5 p5 150 >"$tmp/n5"
[ "$(post "$tmp/n5")" = 200 ]; check "the next that fits: 200" 0 $?
expect_text_soon "and read whole" "$tmp/small.alerts" '"patient":"p5"'
grep -q big1 "$tmp/small.ndjson" && fail "nothing of the refused body may be left in the journal" || ok
kill -TERM "$pid"; wait "$pid"

"$cdr" serve --live draft --rules "$src/rules" --source http:127.0.0.1:0 2>"$tmp/err"; check "http without --journal" 2 $?
"$cdr" serve --live draft --rules "$src/rules" --source http:127.0.0.1:0 --journal "$tmp/j" --format hl7v2 2>"$tmp/err"
check "http with --format hl7v2" 2 $?

echo "fhir_http: $passed passed, $failed failed"
[ "$failed" = 0 ]
