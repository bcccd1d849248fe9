#!/usr/bin/env bash
# tests/cli/diff_test.sh: `cdr diff`, the backtest a governance committee reads
# (docs/governance.md, "Backtests"). On the 150 PhysioNet stays shipped in tests/data,
# NEWS2 against a version whose temperature bands put the top of the band scoring 0 at
# 37.5 Cel instead of 38.0: every figure of the JSON checked against an independent
# derivation (tests/governance/diff_news2_check.py); the HTML report self-contained,
# rendered by headless Chromium without a console message, its screenshot showing both
# series of the alerts-per-day plot (their colours counted), printed to PDF; the same
# figures from a production alert log against a shadow log (`--live none --shadow`); the
# Markdown summary of a small case against tests/golden/diff (checked by hand); usage
# errors.
# Usage: diff_test.sh PATH/TO/cdr SOURCE_DIR
set -uo pipefail
cdr="$1"
src="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

"$cdr" import physionet2019 "$src/tests/data/physionet2019" --out "$tmp/events.ndjson" 2>/dev/null
check "import the 150 stays" 0 $?
mkdir -p "$tmp/base" "$tmp/head"
cp -r "$src/rules/schema" "$src/rules/news2.cdr" "$tmp/base/"
cp -r "$src/rules/schema" "$src/rules/news2.cdr" "$tmp/head/"
sed -i -e 's/^rule news2 version "1.0.0"/rule news2 version "1.1.0"/' \
  -e 's/> 36.0 and <= 38.0: 0;/> 36.0 and <= 37.5: 0;/' -e 's/> 38.0 and <= 39.0: 1;/> 37.5 and <= 39.0: 1;/' \
  "$tmp/head/news2.cdr"
[ "$(grep -c '37.5' "$tmp/head/news2.cdr")" = 2 ] && ok || fail "the head's temperature bands were changed"

"$cdr" diff --base "$tmp/base" --head "$tmp/head" --events "$tmp/events.ndjson" --json "$tmp/diff.json" \
  --report "$tmp/report.html" --markdown "$tmp/summary.md" >"$tmp/out" 2>"$tmp/err"
check "cdr diff" 0 $?
expect_text "the text summary names the rule and the versions" "$tmp/out" "news2 1.0.0 → 1.1.0:"
python3 "$src/tests/governance/diff_news2_check.py" "$src" "$tmp/diff.json" >"$tmp/check" 2>&1
check "every figure equals the independent derivation" 0 $?
grep -q " 0 differences" "$tmp/check" && ok || { fail "the independent derivation differs"; cat "$tmp/check"; }
expect_text "the summary has the table" "$tmp/summary.md" "| \`news2\` | 1.0.0 → 1.1.0 |"
expect_text "the summary shows the rule's diff" "$tmp/summary.md" "+    > 37.5 and <= 39.0: 1;"

# The HTML report: one file, nothing fetched, no script.
grep -Eq '<script|<link|<img|src=|url\(|https?://[^w]' "$tmp/report.html" && fail "the report refers to something outside it" || ok
grep -q '<svg class="plot"' "$tmp/report.html" && ok || fail "the report has its plot"
grep -q '@media print' "$tmp/report.html" && ok || fail "the report has a print layout"
if command -v chromium >/dev/null; then
  browser=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
  timeout 120 "${browser[@]}" --window-size=1100,1400 --screenshot="$tmp/shot.png" "file://$tmp/report.html" \
    >"$tmp/chromium.out" 2>"$tmp/chromium.err"
  check "chromium renders the report" 0 $?
  grep -q 'CONSOLE' "$tmp/chromium.err" && { fail "the page logged to the console"; grep CONSOLE "$tmp/chromium.err"; } || ok
  # The bars of both series (before #8c959f, after #0969da) are on the screenshot.
  read -r after before white < <(python3 "$src/tests/governance/png_colors.py" "$tmp/shot.png" 0969da 8c959f ffffff)
  [ "${after:-0}" -gt 500 ] && ok || fail "the screenshot shows the 'after' bars (${after:-0} pixels)"
  [ "${before:-0}" -gt 500 ] && ok || fail "the screenshot shows the 'before' bars (${before:-0} pixels)"
  [ "${white:-0}" -lt 1540000 ] && ok || fail "the screenshot is not blank"
  timeout 120 "${browser[@]}" --print-to-pdf="$tmp/report.pdf" --no-pdf-header-footer "file://$tmp/report.html" \
    >/dev/null 2>&1
  check "chromium prints the report" 0 $?
  [ "$(head -c 5 "$tmp/report.pdf")" = "%PDF-" ] && ok || fail "the printed report is a PDF"
else
  fail "chromium is not installed (scripts/setup installs it): the report is not checked in a browser"
fi

# Production against shadow: the same figures from two alert logs.
"$cdr" run --rules "$tmp/base" --live draft --events "$tmp/events.ndjson" --out "$tmp/production.ndjson" 2>/dev/null
check "production run" 0 $?
"$cdr" run --rules "$tmp/head" --live none --shadow "$tmp/shadow.ndjson" --events "$tmp/events.ndjson" \
  --out "$tmp/none.ndjson" 2>/dev/null
check "shadow run of the candidate" 0 $?
[ ! -s "$tmp/none.ndjson" ] && ok || fail "the candidate in shadow routes nothing"
"$cdr" diff --base-alerts "$tmp/production.ndjson" --head-alerts "$tmp/shadow.ndjson" --base "$tmp/base" \
  --head "$tmp/head" --json "$tmp/logs.json" >/dev/null 2>"$tmp/err"
check "cdr diff of two alert logs" 0 $?
python3 - "$tmp/diff.json" "$tmp/logs.json" <<'EOF' && ok || fail "the logs' diff gives the run's figures"
import json, sys
a = {r["rule"]: r for r in json.load(open(sys.argv[1]))["rules"]}
b = {r["rule"]: r for r in json.load(open(sys.argv[2]))["rules"]}
assert a == b, [(k, a[k].get(f), b[k].get(f)) for k in a for f in a[k] if a[k].get(f) != b.get(k, {}).get(f)]
EOF

# The Markdown summary of the small case, checked by hand (tests/golden/diff/README.md).
(cd "$src/tests/golden/diff" && "$cdr" diff --base ../../cli/governance/rules \
  --head head ../../cli/governance/rules/vitals.cdr ../../cli/governance/rules/ruleset.cdr \
  --events ../../cli/governance/events.ndjson --markdown "$tmp/golden.md" >/dev/null)
check "cdr diff of the golden case" 0 $?
diff -u "$src/tests/golden/diff/summary.expected.md" "$tmp/golden.md" >"$tmp/golden.diff" && ok ||
  { fail "the Markdown summary differs from tests/golden/diff/summary.expected.md"; head -40 "$tmp/golden.diff"; }

# Usage errors and refusals.
"$cdr" diff --base "$tmp/base" --head "$tmp/head" >/dev/null 2>"$tmp/err"
check "no --events" 2 $?
expect_text "no --events says what is needed" "$tmp/err" "--events HISTORY is needed"
"$cdr" diff --head "$tmp/head" --events "$tmp/events.ndjson" >/dev/null 2>&1
check "no --base" 2 $?
printf 'rule broken version "1.0.0"\n  title\n' >"$tmp/head/broken.cdr"
"$cdr" diff --base "$tmp/base" --head "$tmp/head" --events "$tmp/events.ndjson" >/dev/null 2>"$tmp/err"
check "a head that does not compile" 1 $?
"$cdr" diff --base "$tmp/base" --head "$tmp/base" --events "$tmp/missing.ndjson" >/dev/null 2>"$tmp/err"
check "a missing history" 2 $?
"$cdr" diff --base "$tmp/base" --head "$tmp/base" --events "$tmp/events.ndjson" --report /nonexistent/r.html >/dev/null 2>"$tmp/err"
check "an unwritable report" 2 $?

echo "diff: $passed passed, $failed failed"
[ "$failed" = 0 ]
