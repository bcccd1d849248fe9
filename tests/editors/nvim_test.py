#!/usr/bin/env python3
"""tests/editors/nvim_test.py: cdr's language server in a real editor.

Headless Neovim (Debian's `neovim`), set up by editors/neovim/cdr.lua as docs/editors.md
says, opens a rule file with an undefined message name and a misformatted line in a copy
of the shipped rule set. Its built-in LSP client must show cdr's diagnostic at the right
place (Neovim converts the protocol's UTF-16 columns to bytes itself: the line holds an
emoji), give a hover, and apply `cdr fmt`'s formatting to the buffer.

Usage: nvim_test.py CDR_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import MESSAGE_LINE, check, finish, rate_rule  # noqa: E402

CDR, SRC = sys.argv[1], sys.argv[2]


if not shutil.which("nvim"):
    print("nvim_test: neovim is not installed (scripts/setup installs it)")
    sys.exit(1)

work = tempfile.mkdtemp(prefix="cdr_nvim_")
try:
    rules = os.path.join(work, "rules")
    shutil.copytree(os.path.join(SRC, "rules"), rules)
    message_line = MESSAGE_LINE
    text = rate_rule(let_line="  let    rr =   last(resp_rate within 4h)")  # misformatted: formatting fixes it
    path = os.path.join(rules, "rate.cdr")
    open(path, "w", encoding="utf-8").write(text)
    out = os.path.join(work, "nvim.json")
    env = dict(os.environ, CDR_NVIM_OUT=out, CDR_HOVER_LINE="7",
               CDR_HOVER_CHARACTER=str(text.split("\n")[7].index("resp_rate") + 2), HOME=work,
               XDG_CONFIG_HOME=os.path.join(work, "config"), XDG_DATA_HOME=os.path.join(work, "data"),
               XDG_STATE_HOME=os.path.join(work, "state"))
    r = subprocess.run(["nvim", "--headless", "--clean",
                        "--cmd", f"let g:cdr_command = '{CDR}'",
                        "--cmd", f"luafile {os.path.join(SRC, 'editors/neovim/cdr.lua')}",
                        "-c", f"luafile {os.path.join(SRC, 'tests/editors/nvim_check.lua')}",
                        path], cwd=work, env=env, timeout=120, capture_output=True)
    check(os.path.exists(out), f"neovim wrote its report (status {r.returncode}): {r.stderr.decode()[-2000:]}")
    seen = json.load(open(out)) if os.path.exists(out) else {}
    check(seen.get("filetype") == "cdr", f"the .cdr file type: {seen.get('filetype')}")
    check(seen.get("attached") is True, "cdr lsp attached to the buffer")
    check(seen.get("got_diagnostics") is True, "diagnostics arrived")
    errors = [d for d in seen.get("diagnostics", []) if d["severity"] == 1]
    check(len(errors) == 1, f"one error: {seen.get('diagnostics')}")
    if errors:
        e = errors[0]
        byte = len(message_line[:message_line.index("{rrr}")].encode("utf-8"))
        check(e["lnum"] == 8 and e["col"] == byte and e["end_col"] == byte + 5,
              f"at line 9, byte {byte} (after the emoji): {e}")
        check(e["code"] == "undefined-message-name" and e["source"] == "cdr", f"kind and source: {e}")
        check("`{rrr}`" in e["message"] and "did you mean `rr`" in e["message"], f"message: {e['message']}")
    hover = seen.get("hover") or ""
    check("signal `resp_rate` of schema `vitals`" in hover, f"hover: {hover!r}")
    fmt_copy = os.path.join(work, "copy.cdr")
    open(fmt_copy, "w", encoding="utf-8").write(text)
    subprocess.run([CDR, "fmt", fmt_copy], check=True, capture_output=True)
    want = open(fmt_copy, encoding="utf-8").read()
    check(seen.get("formatted", "") + "\n" == want, f"the buffer after formatting is `cdr fmt`'s text:\n"
          f"{seen.get('formatted')!r}\n{want!r}")
finally:
    shutil.rmtree(work, ignore_errors=True)

finish("neovim")
