"""tests/editors/checks.py: what the editor tests share: their checks (each counted, a
failure printed, the exit status 1 when any failed) and the rule they open."""
import sys

# The rule both editor tests open: its message names `{rrr}`, not a let (an error with a
# did-you-mean fix), after an emoji (two UTF-16 code units, four UTF-8 bytes).
MESSAGE_LINE = '  when rr > 30 \'/min\' alert high "🫁 rate {rrr} above 30"'


def rate_rule(let_line="  let rr = last(resp_rate within 4h)", first_lines=()):
    """The rule's text: `first_lines` above it, `let_line` right above MESSAGE_LINE."""
    return "\n".join([*first_lines,
                      'rule rate version "1.0.0"',
                      '  title "High respiratory rate"',
                      '  owner "test"',
                      "  status draft",
                      '  cites "test"',
                      "  uses vitals",
                      "",
                      let_line,
                      MESSAGE_LINE,
                      ""])

_checks = 0
_failures = 0


def check(ok, what):
    global _checks, _failures
    _checks += 1
    if not ok:
        _failures += 1
        print(f"FAIL: {what}")


def finish(name):
    print(f"{name}: {_checks - _failures} of {_checks} checks passed")
    sys.exit(1 if _failures else 0)
