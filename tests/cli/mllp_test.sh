#!/usr/bin/env bash
# tests/cli/mllp_test.sh: `cdr serve --source mllp:` with an independent client (Python's
# socket; MLLP framing of HL7 v2.5.1 appendix C: 0x0B message 0x1C 0x0D). The ACKs are
# read field by field against HL7 v2.5.1 section 2.9 (MSH-5/6 the sender's MSH-3/4,
# MSH-9 ACK, MSA-1 AA/AE/AR, MSA-2 the message's control id, ERR-3 from table 0357);
# a message acknowledged is in the journal and its alert is written; after kill -9 a
# restart with the same journal and checkpoint writes each alert once, those of messages
# acknowledged after it included; a journal rotated by an operator; 64 connections at
# once; a journal that cannot be written acknowledges AE (the sender sends again) and
# keeps nothing half-written.
# Usage: mllp_test.sh PATH/TO/cdr SOURCE_DIR
set -uo pipefail
cdr="$1"
src="$2"
tmp=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null; [ -n "${KEEP:-}" ] && echo "$tmp" || rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

mllp_port() { announced_port "$1" 'MLLP on 127.0.0.1:'; }  # mllp_port STDERR_FILE
start() {  # start NAME [JOURNAL]: serve on a free port; sets pid and port
  "$cdr" serve --live draft --rules "$src/rules" --source mllp:127.0.0.1:0 --journal "${2:-$tmp/journal.hl7}" --emit eager \
    --max-ahead off --checkpoint "$tmp/ckpt" --checkpoint-every 1 --out "$tmp/alerts.ndjson" \
    --dead-letter "$tmp/dead.ndjson" --late "$tmp/late.ndjson" 2>"$tmp/$1.err" &
  pid=$!
  pids+=("$pid")
  port=$(mllp_port "$tmp/$1.err")
}

# The client: sends each message (one per line of a file, segments separated by `\r` as
# written), prints each ACK's segments and fields as `SEG-N=value` lines.
cat >"$tmp/client.py" <<'PY'
import socket, sys
port, messages = int(sys.argv[1]), open(sys.argv[2]).read().splitlines()
s = socket.create_connection(("127.0.0.1", port), timeout=20)
for n, m in enumerate(messages, 1):
    s.sendall(b"\x0b" + m.replace("\\r", "\r").encode() + b"\x1c\x0d")
    buf = b""
    while not buf.endswith(b"\x1c\x0d"):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed before the ACK")
        buf += chunk
    if not buf.startswith(b"\x0b"):
        sys.exit("an ACK not framed by 0x0B")
    for seg in buf[1:-2].decode().split("\r"):
        if not seg:
            continue
        f = seg.split("|")
        # MSH-1 is the separator itself: MSH's fields are numbered one higher.
        for i, v in enumerate(f[1:], 2 if f[0] == "MSH" else 1):
            print(f"{n}:{f[0]}-{i}={v}")
s.close()
PY
oru() {  # oru CONTROL_ID HR: an ORU^R01 of patient H/7 with a heart rate at 10:00
  printf 'MSH|^~\\&|LAB|HOSP|CDR|ICU|20240101101500+0000||ORU^R01^ORU_R01|%s|P|2.5.1\\rPID|1||7^^^H^MR\\rOBR|1||%s|p^P^L|||20240101100000+0000\\rOBX|1|NM|8867-4^HR^LN||%s|/min|||||F|||20240101100000+0000\\r\n' "$1" "$1" "$2"
}

start first
[ -n "$port" ] && ok || fail "serve must announce its MLLP port"
{
  oru C1 135
  # One observation refused (not a number): accepted, the refusal said in MSA-3.
  printf 'MSH|^~\\&|LAB|HOSP|CDR|ICU|20240101101500+0000||ORU^R01|C2|P|2.5.1\\rPID|1||8^^^H^MR\\rOBR|1||C2|p^P^L|||20240101100000+0000\\rOBX|1|NM|8867-4^HR^LN||99|/min|||||F\\rOBX|2|NM|9279-1^RR^LN||x|/min|||||F\\r\n'
  # No PID: it parses, but whose results they are is not said: AE, 101.
  printf 'MSH|^~\\&|LAB|HOSP|CDR|ICU|20240101101500+0000||ORU^R01|C3|P|2.5.1\\rOBX|1|NM|8867-4^HR^LN||80|/min|||||F\\r\n'
  # Not an HL7 message: AR, 100.
  printf 'MSH|^~|broken\\r\n'
} >"$tmp/m1"
python3 "$tmp/client.py" "$port" "$tmp/m1" >"$tmp/acks1" 2>&1; check "the client gets an ACK for each message" 0 $?
for want in "1:MSH-3=CDR" "1:MSH-5=LAB" "1:MSH-6=HOSP" "1:MSH-9=ACK^R01^ACK" "1:MSH-12=2.5.1" "1:MSA-1=AA" "1:MSA-2=C1" \
            "2:MSA-1=AA" "2:MSA-2=C2" "2:MSA-3=1 of 2 observations cannot be used (dead-lettered): OBX 2: OBX-5 \`x\` is not a number (OBX-2 NM)" \
            "3:MSA-1=AE" "3:MSA-2=C3" "3:ERR-3=101^Required field missing^HL70357" "3:ERR-4=E" \
            "4:MSA-1=AR" "4:ERR-3=100^Segment sequence error^HL70357"; do
  expect_text "ACK field $want" "$tmp/acks1" "$want"
done
[ "$(grep -c '^1:ERR' "$tmp/acks1")" = 0 ]; check "an AA has no ERR segment" 0 $?
# Acknowledged: in the journal; HR 135 scores 3 in NEWS2 (a single red parameter): its alert.
expect_text "the journal holds the first message" "$tmp/journal.hl7" "|C1|P|2.5.1"
expect_text_soon "the first message's alert is written" "$tmp/alerts.ndjson" '"patient":"H/7"'
expect_text_soon "the refused observation is dead-lettered" "$tmp/dead.ndjson" 'OBX 2: OBX-5 `x` is not a number'

# kill -9, messages sent while it is down wait in the client (here: a second serve is not
# running yet); a restart continues from the checkpoint: each alert once.
kill -9 "$pid"; wait "$pid" 2>/dev/null
start second
oru C4 140 | sed 's/7^^^H^MR/9^^^H^MR/' >"$tmp/m2"
python3 "$tmp/client.py" "$port" "$tmp/m2" >"$tmp/acks2" 2>&1; check "the restarted serve acknowledges" 0 $?
expect_text "the new message is accepted" "$tmp/acks2" "1:MSA-1=AA"
expect_text_soon "the new message's alert is written" "$tmp/alerts.ndjson" '"patient":"H/9"'
sleep 0.5
[ "$(grep -c '"patient":"H/7"' "$tmp/alerts.ndjson")" = 1 ]; check "the first alert is written once across the kill" 0 $?
# The journal rotated by an operator: the next message goes to a new journal at its path,
# which the pipeline follows.
mv "$tmp/journal.hl7" "$tmp/journal.hl7.1"
oru C9 141 | sed 's/7^^^H^MR/11^^^H^MR/' >"$tmp/m4"
python3 "$tmp/client.py" "$port" "$tmp/m4" >"$tmp/acks4" 2>&1
expect_text "after a rotation, accepted" "$tmp/acks4" "1:MSA-1=AA"
expect_text "into a new journal" "$tmp/journal.hl7" "|C9|P|2.5.1"
expect_text_soon "and read from there" "$tmp/alerts.ndjson" '"patient":"H/11"'
# 64 connections at once are read; the 65th is closed at once; once they close, a new one
# is read again (their threads joined, not left behind).
python3 - "$port" >"$tmp/many" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
time.sleep(0.5)
extra = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    print("65th:", "closed" if extra.recv(1) == b"" else "open")
except ConnectionResetError:
    print("65th: closed")
for s in held:
    s.close()
PY
expect_text "the 65th connection is closed at once" "$tmp/many" "65th: closed"
sleep 0.5
oru C10 142 | sed 's/7^^^H^MR/12^^^H^MR/' >"$tmp/m5"
python3 "$tmp/client.py" "$port" "$tmp/m5" >"$tmp/acks5" 2>&1
expect_text "after they close, a new connection is read" "$tmp/acks5" "1:MSA-1=AA"
kill -TERM "$pid"; wait "$pid"; check "serve stops on SIGTERM" 0 $?
expect_text "the summary counts the messages" "$tmp/second.err" "MLLP: 67 connections, 3 messages: 3 accepted (AA), 0 errors (AE), 0 rejected (AR); 1 connections turned away (64 were open)"

# A journal that cannot be written (a full disk; here a file size limit of 2 KiB): AE, the
# sender sends again, and nothing half-written is left: the next message that fits is
# journaled whole after the first, and read.
(ulimit -f 2; exec "$cdr" serve --live draft --rules "$src/rules" --source mllp:127.0.0.1:0 --journal "$tmp/small.hl7" --emit eager \
  --max-ahead off --out "$tmp/small.alerts" 2>"$tmp/small.err") &
pid=$!
pids+=("$pid")
port=$(mllp_port "$tmp/small.err")
{
  oru C6 130
  oru C7 131 | sed "s/OBR|1||C7|p^P^L/OBR|1||C7|$(head -c 3000 /dev/zero | tr '\0' 'x')^P^L/"
  oru C8 132 | sed 's/7^^^H^MR/10^^^H^MR/'
} >"$tmp/m3"
python3 "$tmp/client.py" "$port" "$tmp/m3" >"$tmp/acks3" 2>&1; check "the client gets its three ACKs" 0 $?
expect_text "a message that fits is accepted" "$tmp/acks3" "1:MSA-1=AA"
expect_text "a message not stored is not accepted" "$tmp/acks3" "2:MSA-1=AE"
expect_text "its ACK says to send it again" "$tmp/acks3" "2:MSA-3=the message could not be stored"
expect_text "the next that fits is accepted" "$tmp/acks3" "3:MSA-1=AA"
expect_text_soon "the message after the failure is read whole" "$tmp/small.alerts" '"patient":"H/10"'
[ "$(grep -c 'xxxx' "$tmp/small.hl7")" = 0 ]; check "nothing of the refused message is left in the journal" 0 $?
kill -TERM "$pid"; wait "$pid"
expect_text "the summary counts it" "$tmp/small.err" "1 could not be stored (AE: to be sent again)"

# Usage errors: no journal; another format; not HOST:PORT.
"$cdr" serve --live draft --rules "$src/rules" --source mllp:127.0.0.1:0 2>"$tmp/err"; check "mllp without --journal" 2 $?
expect_text "it says why" "$tmp/err" "needs --journal"
"$cdr" serve --live draft --rules "$src/rules" --source mllp:127.0.0.1:0 --journal "$tmp/j" --format fhir 2>"$tmp/err"
check "mllp with --format fhir" 2 $?
"$cdr" serve --live draft --rules "$src/rules" --source mllp:nowhere --journal "$tmp/j" 2>"$tmp/err"; check "mllp:nowhere" 2 $?
"$cdr" serve --live draft --rules "$src/rules" --source file:"$tmp/j" --journal "$tmp/j" 2>"$tmp/err"; check "--journal without mllp" 2 $?

echo "mllp: $passed passed, $failed failed"
[ "$failed" = 0 ]
