# tests/cli/lib.sh: what the CLI test scripts share (sourced): counting checks, and
# checks of exit codes and of text in a file.
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [ "$2" = "$3" ]; then ok; else fail "$1: expected exit $2, got $3"; fi
}
expect_text() {  # expect_text NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then ok; else
    fail "$1: $2 lacks: $3"
    head -5 "$2"
  fi
}
expect_text_soon() {  # expect_text_soon NAME FILE TEXT: the text appears in the file within 20 s
  for _ in $(seq 1 400); do
    grep -qF -- "$3" "$2" 2>/dev/null && break
    sleep 0.05
  done
  expect_text "$@"
}
announced_port() {  # announced_port FILE TEXT: the port that follows TEXT in FILE, once written (10 s at most)
  for _ in $(seq 1 200); do
    p=$(grep -o "$2[0-9]*" "$1" 2>/dev/null | grep -o '[0-9]*$')
    [ -n "$p" ] && { echo "$p"; return; }
    sleep 0.05
  done
}
