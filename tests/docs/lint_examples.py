#!/usr/bin/env python3
"""tests/docs/lint_examples.py: every ```cdr code block of docs/*.md must lint clean.

A block that declares schemas or a rule set is linted alone; a rule, with the shipped
schemas (rules/schema); a rule test, with the shipped rules; a fragment (`let`, `when`, `allow`
lines) inside a rule that uses the shipped schemas, beside the shipped rules (so that
`news2.score` resolves). Warnings are allowed; an error fails the test, naming the doc and
line of the block. A block of whole declarations (`rule`, `schema`, `test`, `ruleset`) must
also be in `cdr fmt`'s layout, so the layout the docs show is the one the formatter writes.

Usage: lint_examples.py PATH/TO/cdr SOURCE_DIR
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile


def blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"```cdr\n(.*?)```", text, re.S):
        yield text[: m.start()].count("\n") + 2, m.group(1)


def first_word(body):
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            return line.split()[0]
    return ""


def schema_names(src):
    names = []
    for f in sorted(glob.glob(os.path.join(src, "rules", "schema", "*.cdr"))):
        m = re.search(r"^schema\s+(\w+)", open(f, encoding="utf-8").read(), re.M)
        if m:
            names.append(m.group(1))
    return names


def main():
    cdr, src = sys.argv[1], sys.argv[2]
    failed = checked = 0
    for doc in sorted(glob.glob(os.path.join(src, "docs", "*.md"))):
        for line, body in blocks(doc):
            checked += 1
            kind = first_word(body)
            with tempfile.TemporaryDirectory() as tmp:
                if kind in ("rule",):
                    shutil.copytree(os.path.join(src, "rules", "schema"), os.path.join(tmp, "schema"))
                elif kind in ("test", "let", "when", "allow"):
                    shutil.copytree(os.path.join(src, "rules"), os.path.join(tmp, "rules"))
                if kind in ("let", "when", "allow"):
                    head = ('rule doc_example version "1.0.0"\n  title "example"\n  owner "docs"\n  status draft\n'
                            '  cites "docs"\n  uses ' + ", ".join(schema_names(src)) + "\n\n")
                    body = head + "".join("  " + l + "\n" for l in body.splitlines())
                with open(os.path.join(tmp, "example.cdr"), "w", encoding="utf-8") as f:
                    f.write(body)
                r = subprocess.run([cdr, "lint", tmp], capture_output=True, text=True)
                if r.returncode != 0:
                    failed += 1
                    print(f"FAIL: {os.path.relpath(doc, src)}:{line}: a `{kind}` example does not lint (exit {r.returncode}):")
                    print(r.stdout + r.stderr)
                if kind in ("rule", "schema", "test", "ruleset"):
                    r = subprocess.run([cdr, "fmt", "--diff", os.path.join(tmp, "example.cdr")], capture_output=True,
                                       text=True)
                    if r.returncode != 0:
                        failed += 1
                        print(f"FAIL: {os.path.relpath(doc, src)}:{line}: a `{kind}` example is not in `cdr fmt`'s layout:")
                        print(r.stdout + r.stderr)
    print(f"docs examples: {checked} checked, {failed} failed")
    if checked == 0:
        print("FAIL: no ```cdr block found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
