#!/usr/bin/env python3
"""tests/decimal/decimal_math_check.py: cdr's power, ln, exp and log against Python's
decimal module (an arbitrary-precision reference): every result must be the exact value
rounded half away from zero to 8 decimal places, or unknown exactly when the reference is
not a real number in the range of a decimal. Random cases (fixed seed) plus the ones that
used to go wrong; the whole batch must also finish in bounded time.

Usage: decimal_math_check.py PATH/TO/cdr_decimal_math_driver
"""
import decimal
import random
import subprocess
import sys
import time
from decimal import Decimal

CTX = decimal.Context(prec=120, rounding=decimal.ROUND_HALF_EVEN, Emax=10**9, Emin=-(10**9))
LIMIT = Decimal(2**63 - 1) / Decimal(10**8)
EIGHT = Decimal("0.00000001")


def rounded(x):
    """The exact value x rounded half away from zero to 8 places, as the driver prints it."""
    if x is None or x.is_nan() or x.is_infinite():
        return "null"
    q = x.quantize(EIGHT, rounding=decimal.ROUND_HALF_UP, context=CTX)
    if abs(q) > LIMIT:
        return "null"
    s = format(q.normalize(CTX), "f")
    if "." not in s:
        s += ".0"
    if s in ("-0.0",):
        s = "0.0"
    return s


def reference(op, a, b):
    a, b = Decimal(a), Decimal(b)
    try:
        if op == "power":
            if a == 0 and b < 0:
                return "null"
            if a < 0 and b != b.to_integral_value():
                return "null"
            if b == 0:
                return rounded(Decimal(1))
            # Whole exponents: exact (Python computes a^n exactly when it can); others at
            # 120 digits, far beyond the 8 places needed.
            return rounded(CTX.power(a, b))
        if op == "ln":
            return "null" if a <= 0 else rounded(CTX.ln(a))
        if op == "exp":
            return rounded(CTX.exp(a))
        if op == "log":
            if a <= 0 or b <= 0 or b == 1:
                return "null"
            return rounded(CTX.divide(CTX.ln(a), CTX.ln(b)))
    except (decimal.Overflow, decimal.InvalidOperation):
        return "null"
    return "null"


def decimal_text(rng, whole_digits, places):
    n = rng.randrange(10**whole_digits) if whole_digits else 0
    f = rng.randrange(10**places) if places else 0
    return f"{n}.{f:0{places}d}" if places else f"{n}.0"


def cases():
    out = [
        ("power", "0.99999999", "100000000"), ("power", "1.00000001", "100000000"), ("power", "0.9", "1000"),
        ("power", "0.99999999", "2147483647"), ("power", "0.025", "3"), ("power", "0.25", "4.5"),
        ("power", "8.0", "-3"), ("power", "-1.0", "3"), ("power", "-2.0", "31"), ("power", "2.0", "0.5"),
        ("power", "-8.0", "0.5"), ("power", "0.0", "-1"), ("power", "0.0", "0.0"), ("power", "1.5", "-65"),
        ("power", "-1.5", "65"), ("power", "10.0", "10"), ("power", "10.0", "11"), ("power", "0.5", "9"),
        ("ln", "2.0", "0"), ("ln", "0.00000001", "0"), ("exp", "1.0", "0"), ("exp", "25.0", "0"), ("exp", "26.0", "0"),
        ("exp", "-30.0", "0"), ("log", "8.0", "2.0"), ("log", "2.0", "4.0"), ("log", "1.0", "10.0"),
    ]
    rng = random.Random(20261206)
    for _ in range(800):
        a = decimal_text(rng, rng.randrange(0, 3), rng.randrange(0, 9))
        if rng.random() < 0.3:
            a = "-" + a
        kind = rng.randrange(4)
        if kind == 0:  # whole exponents, small and large
            b = str(rng.choice([rng.randrange(-70, 70), rng.randrange(-10**6, 10**6), rng.randrange(-2**31, 2**31)]))
        elif kind == 1:  # near-one bases to large whole powers
            a = rng.choice(["0.9999", "1.0001", "0.99999999", "1.00000001", "0.999", "1.001"])
            b = str(rng.randrange(1, 10**9))
        else:
            b = decimal_text(rng, rng.randrange(0, 2), rng.randrange(1, 9))
            if rng.random() < 0.4:
                b = "-" + b
        out.append(("power", a, b))
    for _ in range(300):
        out.append(("ln", decimal_text(rng, rng.randrange(0, 6), rng.randrange(0, 9)), "0"))
        out.append(("exp", ("-" if rng.random() < 0.5 else "") + decimal_text(rng, rng.randrange(0, 2), rng.randrange(0, 9)), "0"))
        out.append(("log", decimal_text(rng, rng.randrange(0, 5), rng.randrange(0, 9)),
                    decimal_text(rng, rng.randrange(0, 3), rng.randrange(1, 9)), ))
    return out


def main():
    driver = sys.argv[1]
    todo = cases()
    text = "".join(f"{op} {a} {b}\n" for op, a, b in todo)
    start = time.monotonic()
    got = subprocess.run([driver], input=text, capture_output=True, text=True, check=True).stdout.splitlines()
    seconds = time.monotonic() - start
    failures = 0
    for (op, a, b), g in zip(todo, got):
        want = reference(op, a, b)
        if g != want:
            failures += 1
            if failures <= 20:
                print(f"FAIL: {op} {a} {b}: cdr {g}, exact {want}")
    if len(got) != len(todo):
        print(f"FAIL: {len(todo)} cases, {len(got)} results")
        failures += 1
    print(f"decimal math: {len(todo)} cases, {failures} differences, {seconds:.2f} s")
    # Bounded time: each case costs microseconds to milliseconds (22 s for one power before).
    if seconds > 30:
        print("FAIL: the batch took too long")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
