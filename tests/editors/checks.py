"""tests/editors/checks.py: the editor tests' checks: each counted, a failure printed, the
exit status 1 when any failed."""
import sys

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
