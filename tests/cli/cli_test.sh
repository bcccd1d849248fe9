#!/usr/bin/env bash
# tests/cli/cli_test.sh: the `cdr` command line end to end: exit codes of docs/cli.md,
# output formats, fmt in place, and malformed input that must never crash or hang.
# Usage: cli_test.sh PATH/TO/cdr SOURCE_DIR
set -uo pipefail
cdr="$1"
src="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

golden="$src/tests/golden/lint"

# lint exit codes
"$cdr" lint "$src/rules" >"$tmp/out" 2>&1; check "lint shipped rules is clean" 0 $?
"$cdr" lint "$golden/fail_bare_number.cdr" >"$tmp/out" 2>&1; check "lint with errors" 1 $?
expect_text "text diagnostic header" "$tmp/out" "fail_bare_number.cdr:16:13: error: \`rr\` is a quantity in \`/min\`, compared with the bare number \`20\` [bare-number]"
"$cdr" lint "$golden/unused_let.cdr" >"$tmp/out" 2>&1; check "lint with warnings only" 0 $?
"$cdr" lint --werror "$golden/unused_let.cdr" >"$tmp/out" 2>&1; check "lint --werror with warnings" 1 $?
"$cdr" lint "$tmp/does-not-exist.cdr" >"$tmp/out" 2>&1; check "lint of a missing path" 2 $?
"$cdr" lint --format xml "$src/rules" >"$tmp/out" 2>&1; check "lint with a bad --format" 2 $?
"$cdr" lint >"$tmp/out" 2>&1; check "lint without paths" 2 $?
"$cdr" frobnicate >"$tmp/out" 2>&1; check "unknown subcommand" 2 $?
"$cdr" --version >"$tmp/out" 2>&1; check "--version" 0 $?
expect_text "--version text" "$tmp/out" "cdr 0.1.0"

# JSON and SARIF
"$cdr" lint --format json "$golden/fail_bare_number.cdr" >"$tmp/out.json" 2>/dev/null; check "lint json exit" 1 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d,list) and d[0]["kind"]=="bare-number" and d[0]["line"]==16 and d[0]["fixes"][0]["replacement"]==" '"'"'/min'"'"'"' "$tmp/out.json"
check "lint json content" 0 $?
"$cdr" lint --format sarif "$golden/fail_band_gap.cdr" >"$tmp/out.sarif" 2>/dev/null; check "lint sarif exit" 1 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["runs"][0]; assert d["version"]=="2.1.0" and r["tool"]["driver"]["name"]=="cdr"; assert all(x["ruleId"]=="band-gap" and x["level"]=="error" and x["message"]["text"] and x["locations"] for x in r["results"])' "$tmp/out.sarif"
check "lint sarif content" 0 $?

# lint --fix: the fix-its applied (what changed shown), then linted again: every error of
# this file has a fix, so none is left. The expected file is made here with sed.
cp "$golden/fail_undefined_message_name.cdr" "$tmp/fixme.cdr"
sed -e '/ alert / s/{r}/{rr}/' -e '/ alert / s/{scroe}/{score}/' "$golden/fail_undefined_message_name.cdr" >"$tmp/fixed.want"
"$cdr" lint --fix "$tmp/fixme.cdr" >"$tmp/out" 2>&1; check "lint --fix fixes every error it has a fix for" 0 $?
cmp -s "$tmp/fixed.want" "$tmp/fixme.cdr" && ok || { fail "lint --fix wrote the fixes"; diff "$tmp/fixed.want" "$tmp/fixme.cdr"; }
expect_text "lint --fix says what it applied" "$tmp/out" "fixme.cdr: 2 fixes applied"
expect_text "lint --fix shows the change" "$tmp/out" '+  when score > 20 '"'"'/min'"'"' alert high "RR {score} high"'
cp "$golden/fail_invalid_metadata.cdr" "$tmp/partly.cdr"
"$cdr" lint --fix "$tmp/partly.cdr" >"$tmp/out" 2>&1; check "lint --fix with errors left" 1 $?
expect_text "what has no fix is still reported" "$tmp/out" 'version "1.0" is not a semantic version'

# fmt: check, rewrite in place, refuse files with errors
printf 'rule r version "1.0.0"\n title "t"   owner "o"\n status draft cites "c" // why\n' > "$tmp/messy.cdr"
"$cdr" fmt --check "$tmp/messy.cdr" >"$tmp/out" 2>&1; check "fmt --check on unformatted" 1 $?
# --diff: what fmt would change, nothing written (the expected lines written by hand).
cp "$tmp/messy.cdr" "$tmp/messy.before"
"$cdr" fmt --diff "$tmp/messy.cdr" >"$tmp/out" 2>&1; check "fmt --diff on unformatted" 1 $?
printf -- '--- %s\n+++ %s (cdr fmt)\n' "$tmp/messy.cdr" "$tmp/messy.cdr" >"$tmp/want"
printf -- ' rule r version "1.0.0"\n- title "t"   owner "o"\n- status draft cites "c" // why\n' >>"$tmp/want"
printf -- '+  title "t"\n+  owner "o"\n+  status draft // why\n+  cites "c"\n' >>"$tmp/want"
cmp -s "$tmp/want" "$tmp/out" && ok || { fail "fmt --diff prints the changed lines"; diff "$tmp/want" "$tmp/out"; }
cmp -s "$tmp/messy.cdr" "$tmp/messy.before"; check "fmt --diff writes nothing" 0 $?
"$cdr" fmt "$tmp/messy.cdr" >"$tmp/out" 2>&1; check "fmt rewrites" 0 $?
"$cdr" fmt --check "$tmp/messy.cdr" >"$tmp/out" 2>&1; check "fmt --check after fmt" 0 $?
expect_text "fmt keeps comments" "$tmp/messy.cdr" '  status draft // why'
"$cdr" fmt --check "$src/rules" >"$tmp/out" 2>&1; check "shipped rules are formatted" 0 $?
cp "$golden/fail_syntax_error.cdr" "$tmp/broken.cdr"
"$cdr" fmt "$tmp/broken.cdr" >"$tmp/out" 2>&1; check "fmt refuses a file with syntax errors" 2 $?
cmp -s "$golden/fail_syntax_error.cdr" "$tmp/broken.cdr"; check "fmt leaves a broken file untouched" 0 $?

# malformed input: diagnostics, never a crash (exit >= 128) or a hang (timeout: 124)
head -c 200000 /dev/urandom > "$tmp/garbage.cdr"
timeout 20 "$cdr" lint "$tmp/garbage.cdr" >"$tmp/out" 2>&1; check "binary garbage" 1 $?
python3 -c 'import sys; open(sys.argv[1],"w").write("rule r version \"1.0.0\"\n  let x = " + "a" * 1000000 + "\n")' "$tmp/longline.cdr"
timeout 20 "$cdr" lint "$tmp/longline.cdr" >"$tmp/out" 2>&1; check "1 MB line" 1 $?
python3 -c 'import sys; open(sys.argv[1],"w").write("rule r version \"1.0.0\"\n  let x = " + "(" * 100000 + "1" + ")" * 100000 + "\n")' "$tmp/deep.cdr"
timeout 20 "$cdr" lint "$tmp/deep.cdr" >"$tmp/out" 2>&1; check "deep nesting" 1 $?
expect_text "deep nesting diagnostic" "$tmp/out" "[nesting-too-deep]"
python3 -c 'import sys; open(sys.argv[1],"w").write("rule r version \"1.0.0\"\n  let x = " + "1 + " * 50000 + "1\n")' "$tmp/chain.cdr"
timeout 20 "$cdr" lint "$tmp/chain.cdr" >"$tmp/out" 2>&1; check "long operator chain" 1 $?
python3 -c 'import sys; open(sys.argv[1],"w").write("rule r version \"1.0.0\"\n  let x = " + "not " * 100000 + "true\n")' "$tmp/prefix.cdr"
timeout 20 "$cdr" lint "$tmp/prefix.cdr" >"$tmp/out" 2>&1; check "long prefix chain" 1 $?
printf 'rule r version "1.0.0"\n  title "\xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \x00"\n' > "$tmp/utf8.cdr"
timeout 20 "$cdr" lint "$tmp/utf8.cdr" >"$tmp/out" 2>&1; check "invalid UTF-8" 1 $?
expect_text "invalid UTF-8 diagnostic" "$tmp/out" "[invalid-utf8]"
head -c 3000000 /dev/zero | tr '\0' 'x' > "$tmp/huge.cdr"
timeout 20 "$cdr" lint "$tmp/huge.cdr" >"$tmp/out" 2>&1; check "file over the size limit" 1 $?
expect_text "size limit diagnostic" "$tmp/out" "[file-too-large]"
: > "$tmp/empty.cdr"
"$cdr" lint "$tmp/empty.cdr" >"$tmp/out" 2>&1; check "empty file" 0 $?

# cdr test: the shipped rules' tests pass; a wrong expectation fails with its location
"$cdr" test "$src/rules" >"$tmp/out" 2>&1; check "cdr test on the shipped rules" 0 $?
expect_text "cdr test summary" "$tmp/out" " passed, 0 failed"
mkdir -p "$tmp/wrong"
cp -r "$src/rules/schema" "$tmp/wrong/"
cp "$src/rules/qsofa.cdr" "$tmp/wrong/"
line=$(( $(wc -l < "$src/rules/qsofa.cdr") + 4 ))
printf '\ntest "wrong on purpose" for qsofa {\n  given resp_rate 30 '"'"'/min'"'"' at 0h\n  expect alert high at 0h\n  expect score = 2 at 0h\n}\n' >> "$tmp/wrong/qsofa.cdr"
"$cdr" test "$tmp/wrong" >"$tmp/out" 2>&1; check "cdr test with a failing test" 1 $?
expect_text "failure names the step" "$tmp/out" "qsofa.cdr:$line:3: expected a high alert at 0h, got none"
expect_text "a wrong value names the step and the value found" "$tmp/out" "qsofa.cdr:$((line + 1)):3: expected score = 2 at 0h, got 1"
# Coverage names a band row not exercised by its let and its condition.
mkdir -p "$tmp/cover"
cp -r "$src/rules/schema" "$tmp/cover/"
cat >"$tmp/cover/b.cdr" <<'EOF'
rule b version "1.0.0"
  title "t"
  owner "o"
  status draft
  cites "c"
  uses vitals

  let rr = last(resp_rate within 4h)
  let rr_score = bands rr {
    <= 8: 3;
    > 8 and <= 20: 0;
    > 20: 2;
  } ?? 0
  when rr_score >= 2 alert high "{rr_score}"

test "fast" for b {
  given resp_rate 25 '/min' at 0h
  expect alert high at 0h
}
EOF
"$cdr" test "$tmp/cover" >"$tmp/out" 2>&1; check "cdr test with rows not exercised" 0 $?
expect_text "coverage names rows by let and text" "$tmp/out" \
  "coverage b: 1 tests, when clauses 1/1, band rows 1/3; not exercised: rr_score row \`<= 8\`, rr_score row \`> 8 and <= 20\`"

# cdr import physionet2019: one event per non-missing measured cell, checked against the files
"$cdr" import physionet2019 "$src/tests/data/physionet2019" --out "$tmp/events.ndjson" 2>"$tmp/err"; check "import physionet2019" 0 $?
expected=$(python3 - "$src/tests/data/physionet2019" <<'PY'
import glob, sys
skip = {"Age", "Gender", "Unit1", "Unit2", "HospAdmTime", "ICULOS", "SepsisLabel"}
n = 0
for f in glob.glob(sys.argv[1] + "/*.psv"):
    lines = open(f).read().split("\n")
    cols = lines[0].split("|")
    for row in lines[1:]:
        if row:
            n += sum(1 for c, v in zip(cols, row.split("|")) if c not in skip and v != "NaN")
print(n)
PY
)
actual=$(wc -l < "$tmp/events.ndjson")
check "import event count equals the non-missing cells ($expected)" "$expected" "$actual"
"$cdr" import physionet2019 "$tmp/no-such-dir" >"$tmp/out" 2>&1; check "import of a missing folder" 2 $?

# cdr import hl7v2: ORU^R01 observations; other messages skipped; problems named, exit 0
printf 'MSH|^~\\&|LAB|H|CDR|H|20240101121500+0100||ORU^R01|C1|P|2.5.1\rPID|1||7^^^H^MR\rOBR|1||F1||||20240101113000+0100\rOBX|1|NM|8867-4^HR^LN||93|/min|||||F\rOBX|2|NM|9279-1^RR^LN||x|/min|||||F\r' >"$tmp/oru.hl7"
printf 'MSH|^~\\&|ADT|H|CDR|H|20240101121500+0100||ADT^A01|C2|P|2.5.1\rPID|1||7^^^H^MR\r' >"$tmp/adt.hl7"
"$cdr" import hl7v2 "$tmp/oru.hl7" "$tmp/adt.hl7" --out "$tmp/hl7.ndjson" 2>"$tmp/err"; check "import hl7v2" 0 $?
expect_text "import hl7v2 writes the observation" "$tmp/hl7.ndjson" '{"id":"F1/8867-4","patient":"H/7","time":"2024-01-01T10:30:00Z","recorded":"2024-01-01T11:15:00Z","code":{"system":"http://loinc.org","code":"8867-4"},"value":93,"unit":"/min"}'
[ "$(wc -l <"$tmp/hl7.ndjson")" = 1 ]; check "import hl7v2 writes one event" 0 $?
expect_text "import hl7v2 names a bad value" "$tmp/err" "oru.hl7:1: OBX 2: OBX-5 \`x\` is not a number (OBX-2 NM); skipped"
expect_text "import hl7v2 counts" "$tmp/err" "cdr import: 2 files, 2 records, 1 events (1 parts with nothing to read skipped), 1 problems reported above"
"$cdr" import hl7v2 "$tmp/no-such.hl7" >/dev/null 2>&1; check "import hl7v2 of a missing file" 2 $?
"$cdr" import hl7v2 "$tmp/oru.hl7" --timezone +1 >/dev/null 2>&1; check "import hl7v2 with a bad offset" 2 $?

# cdr schema diff: a code removed from a signal the shipped rules read breaks them, exit 1;
# the same set, exit 0; a missing set, exit 2
cp -r "$src/rules" "$tmp/rules-new"
sed -i 's/codes loinc "8310-5", "8331-1"/codes loinc "8310-5"/' "$tmp/rules-new/schema/vitals.cdr"
"$cdr" schema diff "$src/rules" "$tmp/rules-new" >"$tmp/diff" 2>"$tmp/err"; check "schema diff with a break" 1 $?
expect_text "schema diff names the break and its readers" "$tmp/diff" \
  'breaking  vitals.temp: code loinc "8331-1" removed: its events go to the dead letter (read by news2, sirs)'
expect_text "schema diff says the major version did not change" "$tmp/diff" \
  "schema vitals: breaking changes without a new major version (1.0.0 -> 1.0.0)"
"$cdr" schema diff "$src/rules" "$src/rules" >"$tmp/diff" 2>"$tmp/err"; check "schema diff of one set" 0 $?
[ -s "$tmp/diff" ] && fail "schema diff of one set prints nothing" || ok
"$cdr" schema diff "$src/rules" "$tmp/no-such" >/dev/null 2>&1; check "schema diff of a missing set" 2 $?

# the import's events hold patient data: created 0600; a failed write is named, exit 2
"$cdr" import physionet2019 "$src/tests/data/physionet2019" --out "$tmp/imported.ndjson" 2>/dev/null; check "import to a file" 0 $?
[ "$(stat -c %a "$tmp/imported.ndjson")" = "600" ]; check "import output is created 0600" 0 $?
"$cdr" import physionet2019 "$src/tests/data/physionet2019" --out /dev/full 2>"$tmp/err"; check "import on a full disk" 2 $?
expect_text "import on a full disk names the file" "$tmp/err" "cdr import: cannot write /dev/full: No space left on device"

# cdr run: exit codes, counters that add up, outputs
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/events.ndjson" --out "$tmp/alerts.ndjson" --trace "$tmp/trace.ndjson" 2>"$tmp/err"; check "cdr run" 0 $?
# One value of the sample is outside its schema's plausible range (p100130, hour 36: a
# mean arterial pressure of 256 mm[Hg]; vitals.cdr: 10 .. 250): dead-lettered.
expect_text "run summary" "$tmp/err" "$expected events read: $((expected - 1)) used, 1 dead-lettered, 0 late"
expect_text "implausible value refused" "$tmp/err" 'value 256 mm[Hg] of `map` is outside its plausible range 10 .. 250 mm[Hg]'

python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]; [json.loads(l) for l in open(sys.argv[2])]' "$tmp/alerts.ndjson" "$tmp/trace.ndjson"; check "alerts and trace are NDJSON" 0 $?
printf '{"id":"x","patient":"p","time":"2000-01-01T00:00:00Z","signal":"resp_rate","value":30,"unit":"/min"}\nnot json\n' | "$cdr" run --live draft --rules "$src/rules" --dead-letter "$tmp/dead.ndjson" >"$tmp/out" 2>"$tmp/err"; check "cdr run from stdin" 0 $?
expect_text "dead letter written" "$tmp/dead.ndjson" '"line":2'
expect_text "counters add up" "$tmp/err" "2 events read: 1 used, 1 dead-lettered, 0 late"
"$cdr" run --live draft --rules "$golden/fail_bare_number.cdr" --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run refuses rules with errors" 1 $?
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/missing.ndjson" >"$tmp/out" 2>&1; check "cdr run with a missing events file" 2 $?
"$cdr" run --live draft --rules "$src/rules" --allowed-lateness soon --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run with a bad lateness" 2 $?
"$cdr" run --live draft --rules "$src/rules" --max-ahead soon --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run with a bad --max-ahead" 2 $?
expect_text "bad --max-ahead named" "$tmp/out" "--max-ahead soon is not a duration"
"$cdr" run --live draft --rules "$src/rules" --max-ahead 2d --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run with --max-ahead beyond the lateness" 2 $?
"$cdr" run --live draft --rules "$src/rules" --max-clock-skew 5 --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run with a bad --max-clock-skew" 2 $?
"$cdr" run --live draft --rules "$src/rules" --emit sometimes --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run with a bad --emit" 2 $?
# One event dated a year ahead (a typo) among the demo's events: held, never corroborated,
# dead-lettered with its reason; every other result unchanged.
head -n 5000 "$tmp/events.ndjson" >"$tmp/typo.ndjson"
printf '{"id":"typo","patient":"p100001","time":"2001-01-01T05:00:00Z","signal":"sbp","value":90,"unit":"mm[Hg]"}\n' >>"$tmp/typo.ndjson"
tail -n +5001 "$tmp/events.ndjson" >>"$tmp/typo.ndjson"
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/typo.ndjson" --out "$tmp/alerts-typo" --trace "$tmp/trace-typo" --dead-letter "$tmp/dead-typo" 2>"$tmp/err"; check "cdr run with a typo a year ahead" 0 $?
expect_text "typo quarantined" "$tmp/dead-typo" '"line":5001'
expect_text "typo reason" "$tmp/dead-typo" "ahead of the stream time"
expect_text "typo counted" "$tmp/err" "2 dead-lettered, 0 late"
if cmp -s "$tmp/alerts-typo" "$tmp/alerts.ndjson" && cmp -s "$tmp/trace-typo" "$tmp/trace.ndjson"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: a typo a year ahead changed the alerts or the trace"
fi
# cdr run's outputs: all opened and checked before any is emptied; never the input; 0600
runlate="$src/tests/golden/run/late_events"  # its rules fire 8 alerts on its 7 events
# --stats and the per-rule summary: the counts of the alerts file, counted here (eager
# emission: the late RR revises first_rr, two retractions).
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$runlate/events.ndjson" --emit eager \
  --out "$tmp/stats-alerts.ndjson" --stats "$tmp/stats.json" 2>"$tmp/err"
check "run --stats" 0 $?
python3 - "$tmp/stats-alerts.ndjson" "$tmp/stats.json" <<'EOF' && ok || fail "--stats counts the alerts file's fires, retractions, final alerts and patients"
import collections, json, sys
fired, retracted, final = collections.Counter(), collections.Counter(), {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    (fired if a["action"] == "fire" else retracted)[a["rule"]] += 1
    if a["action"] == "fire":
        final[a["alert"]] = a
    else:
        final.pop(a["alert"])
stats = {r["rule"]: r for r in json.load(open(sys.argv[2]))["rules"]}
assert sum(retracted.values()) == 2, retracted
for rule, r in stats.items():
    mine = [a for a in final.values() if a["rule"] == rule]
    severities = collections.Counter(a["severity"] for a in mine)
    assert (r["fired"], r["retracted"], r["final"], r["patients"], r["final_by_severity"]) == \
        (fired[rule], retracted[rule], len(mine), len({a["patient"] for a in mine}), dict(severities)), (rule, r)
# The state at the end, by part: the parts add up, and patients hold events.
state = json.load(open(sys.argv[2]))["state"]
parts = ["patient", "events", "windows", "ids", "withdrawn", "points", "alerts", "sustained", "queues"]
assert state["bytes"] == sum(state[p] for p in parts) and state["patients"] > 0 and state["events"] > 0, state
EOF
expect_text "the summary has a line per rule" "$tmp/err" "first_rr                 5          2        3         3  low 3"
cp "$runlate/events.ndjson" "$tmp/in.ndjson"; cp "$tmp/in.ndjson" "$tmp/in.orig"
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/in.ndjson" 2>"$tmp/err"; check "run --out naming the input" 2 $?
cmp -s "$tmp/in.ndjson" "$tmp/in.orig"; check "run --out naming the input: the input is intact" 0 $?
expect_text "run --out naming the input: why" "$tmp/err" "--out and --events name the same file"
ln -s "$tmp/in.ndjson" "$tmp/link.ndjson"
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/link.ndjson" --dead-letter "$tmp/in.ndjson" 2>"$tmp/err"; check "run: an output that is the input by another name" 2 $?
cmp -s "$tmp/in.ndjson" "$tmp/in.orig"; check "run: the input by another name is intact" 0 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/same.ndjson" --trace "$tmp/same.ndjson" 2>"$tmp/err"; check "run --out and --trace one file" 2 $?
expect_text "run --out and --trace one file: why" "$tmp/err" "--out and --trace name the same file"
[ ! -e "$tmp/same.ndjson" ]; check "run refused: the file it created is removed" 0 $?
echo "earlier alerts" > "$tmp/kept.ndjson"
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/kept.ndjson" --trace "$tmp/no/such/dir/t.ndjson" 2>"$tmp/err"; check "run with an unwritable --trace" 2 $?
expect_text "run with an unwritable --trace names it" "$tmp/err" "cannot write $tmp/no/such/dir/t.ndjson: No such file or directory"
[ "$(cat "$tmp/kept.ndjson")" = "earlier alerts" ]; check "run with an unwritable --trace: --out untouched" 0 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/o.ndjson" --trace "$tmp/t.ndjson" --dead-letter "$tmp/d.ndjson" --late "$tmp/l.ndjson" 2>/dev/null; check "run with every output to a file" 0 $?
[ "$(stat -c %a "$tmp/o.ndjson" "$tmp/t.ndjson" "$tmp/d.ndjson" "$tmp/l.ndjson" | sort -u)" = "600" ]; check "run outputs are created 0600" 0 $?
[ "$(wc -l < "$tmp/o.ndjson")" = "10" ]; check "run outputs: 8 fired and 2 retracted alert lines" 0 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/m.ndjson" --output-mode 640 2>/dev/null; check "run --output-mode 640" 0 $?
[ "$(stat -c %a "$tmp/m.ndjson")" = "640" ]; check "run --output-mode 640 applies" 0 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --output-mode 999 2>/dev/null; check "run --output-mode not octal" 2 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out /dev/full 2>"$tmp/err"; check "run --out on a full disk" 2 $?
expect_text "run on a full disk names the file and the reason" "$tmp/err" "cannot write /dev/full: No space left on device"
expect_text "run on a full disk stops at once" "$tmp/err" "stopped after event 6, the rest of the input not read; 0 alert lines are on /dev/full"
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out "$tmp/s.ndjson" --fsync 2>/dev/null; check "run --fsync" 0 $?
cmp -s "$tmp/s.ndjson" "$tmp/o.ndjson"; check "run --fsync writes the same alerts" 0 $?
# A live feed (a FIFO kept open): with --flush alert (the default) each alert is on its file
# before the next event is read; with --flush batch it waits for the buffer or the end.
live() {  # live FLUSH: alert lines on the file while the feed is still open (up to 3 s)
  rm -f "$tmp/feed" "$tmp/live.ndjson"; mkfifo "$tmp/feed"
  "$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/feed" --out "$tmp/live.ndjson" --emit eager --max-ahead off \
    --flush "$1" 2>/dev/null &
  local pid=$!
  exec 3>"$tmp/feed"
  cat "$tmp/in.ndjson" >&3
  local n=0
  for _ in $(seq 30); do
    n=$(wc -l < "$tmp/live.ndjson" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ] && [ "$1" = alert ]; then break; fi
    sleep 0.1
  done
  exec 3>&-
  wait "$pid"
  echo "$n"
}
[ "$(live alert)" -gt 0 ]; check "run --flush alert: alerts on the file while the feed is open" 0 $?
[ "$(live batch)" = 0 ]; check "run --flush batch: alerts wait for the buffer" 0 $?
# SIGTERM on a quiet live feed: the run ends as at the end of its input, exit 0
rm -f "$tmp/feed" "$tmp/live.ndjson"; mkfifo "$tmp/feed"
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/feed" --out "$tmp/live.ndjson" --emit eager --max-ahead off 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/feed"
cat "$tmp/in.ndjson" >&3
sleep 1
kill -TERM "$pid"
wait "$pid"; check "run stopped by SIGTERM on a quiet feed" 0 $?
exec 3>&-
expect_text "run stopped by SIGTERM says so" "$tmp/err" "stopped by SIGTERM after event 7"
[ "$(wc -l < "$tmp/live.ndjson")" = "10" ]; check "run stopped by SIGTERM: every alert written" 0 $?
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --out /dev/null --trace /dev/null 2>/dev/null; check "run: /dev/null for two outputs is allowed" 0 $?

# Refused events on stderr (the default) give their reason and line, never their text:
# stderr ends up in logs, and an event holds patient data. A named file gets the text.
printf '{"id":"x1","patient":"P-SECRET","time":"2024-01-01T00:00:00Z","signal":"nope","value":1}\n' > "$tmp/secret.ndjson"
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/secret.ndjson" --out /dev/null 2>"$tmp/err"; check "run with a dead letter on stderr" 0 $?
expect_text "dead letter on stderr: reason and line" "$tmp/err" '{"reason":"unknown signal `nope`","line":1}'
! grep -q "P-SECRET" "$tmp/err"; check "dead letter on stderr: no patient data" 0 $?
"$cdr" run --live draft --rules "$src/rules" --events "$tmp/secret.ndjson" --out /dev/null --dead-letter "$tmp/dl.ndjson" 2>/dev/null; check "run with --dead-letter" 0 $?
expect_text "dead letter in its file: the event quoted" "$tmp/dl.ndjson" 'P-SECRET'
"$cdr" run --live draft --rules "$runlate/rules.cdr" --events "$tmp/in.ndjson" --allowed-lateness 2h --max-ahead off --out /dev/null 2>"$tmp/err"; check "run with a late event on stderr" 0 $?
expect_text "late event on stderr: reason and line only" "$tmp/err" '{"reason":"later than the allowed lateness","line":4}'

# the three engines give the same alerts and trace, byte for byte
for engine in interp jit adaptive; do
  "$cdr" run --live draft --rules "$src/rules" --engine $engine --events "$tmp/events.ndjson" --out "$tmp/alerts-$engine" --trace "$tmp/trace-$engine" 2>"$tmp/err-$engine"; check "cdr run --engine $engine" 0 $?
done
expect_text "jit summary" "$tmp/err-jit" "engine: jit; 8 rules compiled at -O2"
cmp -s "$tmp/alerts-interp" "$tmp/alerts-jit" && cmp -s "$tmp/trace-interp" "$tmp/trace-jit" && cmp -s "$tmp/alerts-interp" "$tmp/alerts-adaptive" && cmp -s "$tmp/trace-interp" "$tmp/trace-adaptive"
check "interp, jit and adaptive agree" 0 $?
"$cdr" run --live draft --rules "$src/rules" --engine jit --opt 1 --events "$tmp/events.ndjson" >"$tmp/out" 2>&1; check "cdr run --opt 1 is a usage error" 2 $?
python3 -c 'import sys; sys.stdout.write("{\"id\":\"" + "x" * 10000000 + "\"}\n")' > "$tmp/huge-line.ndjson"
timeout 60 "$cdr" run --live draft --rules "$src/rules" --events "$tmp/huge-line.ndjson" --dead-letter "$tmp/dead.ndjson" >"$tmp/out" 2>"$tmp/err"; check "a 10 MB event line" 0 $?
expect_text "10 MB line dead-lettered" "$tmp/dead.ndjson" 'over the limit'

# cdr import mimic-iv, when the shared sample data is beside the clone
mimic="$src/../shared/data/mimic-iv-demo-2.2"
if [ -d "$mimic" ]; then
  "$cdr" import mimic-iv "$mimic" --out "$tmp/mimic.ndjson" 2>"$tmp/err"; check "import mimic-iv" 0 $?
  expect_text "mimic import summary" "$tmp/err" "events in recorded order"
  # MIMIC shifts each patient's dates by its own offset: no common clock for the hold.
  "$cdr" run --live draft --rules "$src/rules" --events "$tmp/mimic.ndjson" --max-ahead off --out /dev/null --dead-letter "$tmp/dead.ndjson" --late "$tmp/late.ndjson" 2>"$tmp/err"; check "run on the mimic import" 0 $?
  expect_text "mimic events all usable" "$tmp/err" " 0 dead-lettered"
fi

# eval: closed expressions printed as CQL literals (values checked by hand)
eval_case() {  # eval_case EXPECTED_EXIT EXPECTED_TEXT ARGS...
  local code="$1" text="$2"
  shift 2
  "$cdr" eval "$@" >"$tmp/out" 2>&1; check "eval $*" "$code" $?
  expect_text "eval $* gives $text" "$tmp/out" "$text"
}
eval_case 0 "3.0" "1.5 * 2"
eval_case 0 "4.33" "Round(10 / 3, 2) + 1 'cm' / 1 'cm'"
eval_case 0 "null" "2147483647 + 1"
eval_case 0 "true" "'Abel' ~ 'abel' and 1 'm' = 100 'cm'"
eval_case 1 "<expression>:1:" "1 +"
eval_case 1 "months and years have no fixed length" "1 month"
eval_case 1 '"type-mismatch"' --format json "1 + 'a'"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
