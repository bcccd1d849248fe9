#!/usr/bin/env python3
"""tests/editors/lsp_conversation.py: a scripted conversation with `cdr lsp`.

A small JSON-RPC client (written here, no library) drives the server over stdio as an
editor would: initialize, didOpen of a rule with an error, publishDiagnostics, hover,
definition, references, completion, formatting, a code action applied by an incremental
change, semantic tokens, document symbols, malformed messages, shutdown and exit. Every
expected position is computed here from the files' text (Python's own UTF-16 encoding for
the protocol's default columns), never taken from the server.

Usage: lsp_conversation.py CDR_BINARY SOURCE_DIR
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import MESSAGE_LINE, check, finish, rate_rule  # noqa: E402
import time

CDR, SRC = sys.argv[1], sys.argv[2]


class Client:
    def __init__(self, cwd):
        self.p = subprocess.Popen([CDR, "lsp", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, cwd=cwd)
        self.buf = b""
        self.next_id = 1
        self.notes = []  # notifications received, in order

    def send_raw(self, body: bytes):
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode())

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def recv(self, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"Content-Length: *(\d+)", self.buf[:end], re.I)
                assert m, self.buf[:end]
                n = int(m.group(1))
                if len(self.buf) >= end + 4 + n:
                    body = self.buf[end + 4:end + 4 + n]
                    self.buf = self.buf[end + 4 + n:]
                    return json.loads(body)
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no message from cdr lsp")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise EOFError("cdr lsp closed its output")
                self.buf += chunk

    def request(self, method, params):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            m = self.recv()
            if m.get("id") == rid and "method" not in m:
                return m
            self.notes.append(m)

    def diagnostics_for(self, uri, timeout=10.0):
        """The latest publishDiagnostics of `uri`, waiting for one if none arrived yet."""
        deadline = time.time() + timeout
        while True:
            found = [n for n in self.notes if n.get("method") == "textDocument/publishDiagnostics"
                     and n["params"]["uri"] == uri]
            if found:
                self.notes = [n for n in self.notes if n not in found]
                return found[-1]["params"]
            self.notes.append(self.recv(max(0.1, deadline - time.time())))


def uri(path):
    return "file://" + path


def utf16(s):
    return len(s.encode("utf-16-le")) // 2


def code_lines(path):
    """The lines of a file with // comments blanked (for finding names written in code)."""
    out = []
    for line in open(path, encoding="utf-8").read().split("\n"):
        text = re.sub(r'"[^"]*"', lambda m: " " * len(m.group(0)), line)
        cut = text.find("//")
        out.append(line if cut < 0 else line[:cut])
    return out


work = tempfile.mkdtemp(prefix="cdr_lsp_")
try:
    rules = os.path.join(work, "rules")
    shutil.copytree(os.path.join(SRC, "rules"), rules)
    shock = os.path.join(rules, "rate.cdr")  # open in the editor only: never written to disk
    message_line = MESSAGE_LINE
    shock_text = rate_rule(first_lines=["// A test rule: a high respiratory rate."])

    c = Client(work)
    init = c.request("initialize", {"processId": os.getpid(), "rootUri": uri(work),
                                    "capabilities": {"general": {"positionEncodings": ["utf-16"]}}})
    caps = init["result"]["capabilities"]
    check(caps["positionEncoding"] == "utf-16", f"utf-16 negotiated: {caps.get('positionEncoding')}")
    for cap in ["hoverProvider", "definitionProvider", "referencesProvider", "documentFormattingProvider",
                "documentSymbolProvider"]:
        check(caps.get(cap) is True, f"capability {cap}")
    check(caps["textDocumentSync"]["change"] == 2, "incremental sync")
    legend = caps["semanticTokensProvider"]["legend"]["tokenTypes"]
    check(init["result"]["serverInfo"]["name"] == "cdr", "serverInfo")
    c.notify("initialized", {})

    # ---- didOpen with an error, then its diagnostics ----------------------------------
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri(shock), "languageId": "cdr", "version": 1,
                                                       "text": shock_text}})
    d = c.diagnostics_for(uri(shock))
    errors = [x for x in d["diagnostics"] if x["severity"] == 1]
    check(len(errors) == 1, f"one error in the opened rule: {d['diagnostics']}")
    e = errors[0] if errors else {"range": {}, "code": None}
    start = utf16(message_line[:message_line.index("{rrr}")])
    check(e["code"] == "undefined-message-name", f"its kind: {e.get('code')}")
    check(e["range"] == {"start": {"line": 9, "character": start}, "end": {"line": 9, "character": start + 5}},
          f"its range in UTF-16 columns (the lung emoji counts two): {e['range']}, expected {start}")
    check("did you mean `rr`" in e.get("message", ""), f"its note: {e.get('message')}")
    check(d.get("version") == 1, "the diagnostics name the document's version")
    # Files not open are analysed with it: the shipped rules publish (no errors).
    q = c.diagnostics_for(uri(os.path.join(rules, "qsofa.cdr")))
    check(all(x["severity"] != 1 for x in q["diagnostics"]), f"qsofa.cdr published without errors: {q}")

    # ---- hover -------------------------------------------------------------------------
    rr_col = message_line.index("rr >")
    h = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)},
                                         "position": {"line": 9, "character": utf16(message_line[:rr_col]) + 1}})
    value = h["result"]["contents"]["value"]
    check("let rr = last(resp_rate within 4h)" in value and "quantity" in value and "quantity in `/min`" in value
          and "may be unknown" in value, f"hover on a let: {value!r}")
    let_line = "  let rr = last(resp_rate within 4h)"
    rp = let_line.index("resp_rate")
    h = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)},
                                         "position": {"line": 8, "character": rp + 3}})
    value = h["result"]["contents"]["value"]
    vitals = os.path.join(rules, "schema", "vitals.cdr")
    decl_line = [i for i, l in enumerate(open(vitals).read().split("\n")) if re.match(r"\s*signal resp_rate\b", l)][0]
    decl_text = open(vitals).read().split("\n")[decl_line].strip()
    check(decl_text in value and "schema `vitals`" in value and "plausible 0 .. 80 '/min'" in value,
          f"hover on a signal shows its schema line and plausible range: {value!r}")
    check(h["result"]["range"]["start"] == {"line": 8, "character": rp}, "hover range is the name")
    last_col = let_line.index("last")
    h = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)},
                                         "position": {"line": 8, "character": last_col + 1}})
    check("last(SIGNAL within DURATION)" in h["result"]["contents"]["value"], f"hover on a function: {h}")

    # ---- definition and references --------------------------------------------------
    dfn = c.request("textDocument/definition", {"textDocument": {"uri": uri(shock)},
                                                "position": {"line": 8, "character": rp}})
    vitals_src = open(vitals).read().split("\n")[decl_line]
    check(dfn["result"]["uri"] == uri(vitals)
          and dfn["result"]["range"]["start"] == {"line": decl_line, "character": vitals_src.index("resp_rate")},
          f"definition of resp_rate: {dfn['result']}")
    dfn = c.request("textDocument/definition", {"textDocument": {"uri": uri(shock)},
                                                "position": {"line": 9, "character": utf16(message_line[:rr_col])}})
    check(dfn["result"]["range"]["start"] == {"line": 8, "character": let_line.index("rr")},
          f"definition of a let: {dfn['result']}")
    refs = c.request("textDocument/references", {"textDocument": {"uri": uri(shock)},
                                                 "position": {"line": 8, "character": rp},
                                                 "context": {"includeDeclaration": True}})
    got = {(r["uri"], r["range"]["start"]["line"], r["range"]["start"]["character"]) for r in refs["result"]}
    # Every `resp_rate` written in code (comments and messages left out) of the rule set,
    # and the opened document.
    want = set()
    for root, _, names in os.walk(rules):
        for n in names:
            if n.endswith(".cdr") and os.path.join(root, n) != shock:
                for i, line in enumerate(code_lines(os.path.join(root, n))):
                    for m in re.finditer(r"\bresp_rate\b", line):
                        want.add((uri(os.path.join(root, n)), i, utf16(line[:m.start()])))
    want.add((uri(shock), 8, rp))
    check(got == want, f"references of resp_rate: missing {sorted(want - got)}, extra {sorted(got - want)}")
    check(len(want) > 5, f"resp_rate is read by several shipped rules ({len(want)})")
    refs = c.request("textDocument/references", {"textDocument": {"uri": uri(shock)},
                                                 "position": {"line": 8, "character": rp},
                                                 "context": {"includeDeclaration": False}})
    check(len(refs["result"]) == len(want) - 1, "references without the declaration")

    # ---- completion ---------------------------------------------------------------------
    comp = c.request("textDocument/completion", {"textDocument": {"uri": uri(shock)},
                                                 "position": {"line": 8, "character": let_line.index("(") + 1}})
    items = comp["result"]["items"] if isinstance(comp["result"], dict) else comp["result"]
    labels = {i["label"]: i for i in items}
    check("resp_rate" in labels and labels["resp_rate"]["kind"] == 10, "completion offers the schema's signals")
    check("last" in labels and labels["last"]["kind"] == 3, "completion offers functions")
    check("within" in labels and labels["within"]["kind"] == 14, "completion offers keywords")
    check("rr" not in labels, "a let is not offered on its own line (it is not defined yet)")
    check("qsofa.score" in labels, "completion offers other rules' lets as derived signals")
    comp = c.request("textDocument/completion", {"textDocument": {"uri": uri(shock)},
                                                 "position": {"line": 9, "character": message_line.index("'") + 1}})
    items = comp["result"]["items"] if isinstance(comp["result"], dict) else comp["result"]
    units = {i["label"] for i in items}
    check({"/min", "mm[Hg]", "h"} <= units and "resp_rate" not in units, f"completion in a quoted unit: {sorted(units)}")

    # ---- code action, applied as an incremental change -----------------------------------
    ca = c.request("textDocument/codeAction", {"textDocument": {"uri": uri(shock)}, "range": e["range"],
                                               "context": {"diagnostics": [e]}})
    actions = ca["result"]
    check(len(actions) == 1 and actions[0]["title"] == "Replace `rrr` with `rr`" and actions[0]["kind"] == "quickfix",
          f"one quick fix: {actions}")
    edits = actions[0]["edit"]["changes"].get(uri(shock), []) if actions else []
    check(len(edits) == 1 and edits[0]["newText"] == "rr"
          and edits[0]["range"]["start"] == {"line": 9, "character": start + 1}, f"the fix's edit: {edits}")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri(shock), "version": 2},
                                        "contentChanges": [{"range": edits[0]["range"], "text": "rr"}] if edits else []})
    d = c.diagnostics_for(uri(shock))
    check(d["version"] == 2 and all(x["severity"] != 1 for x in d["diagnostics"]),
          f"after the fix (applied at UTF-16 columns), no error: {d}")

    # ---- semantic tokens --------------------------------------------------------------
    st = c.request("textDocument/semanticTokens/full", {"textDocument": {"uri": uri(shock)}})
    data = st["result"]["data"]
    tokens, line, ch = {}, 0, 0
    for i in range(0, len(data), 5):
        dl, dc, ln, ty, _ = data[i:i + 5]
        line += dl
        ch = ch + dc if dl == 0 else dc
        tokens[(line, ch)] = (ln, legend[ty])
    check(tokens.get((8, rp)) == (9, "property"), f"resp_rate is a property: {tokens.get((8, rp))}")
    check(tokens.get((8, let_line.index("rr"))) == (2, "variable"), "rr is a variable")
    check(tokens.get((8, last_col)) == (4, "function"), "last is a function")
    check(tokens.get((1, 0)) == (4, "keyword"), "rule is a keyword")
    check(tokens.get((0, 0)) == (len("// A test rule: a high respiratory rate."), "comment"), "the comment")
    msg_col = utf16(message_line[:message_line.index('"')])
    fixed_line = message_line.replace("{rrr}", "{rr}")
    check(tokens.get((9, msg_col)) == (utf16(fixed_line[fixed_line.index('"'):]), "string"),
          "the message is one string token, its length in UTF-16 units")

    # ---- document symbols ---------------------------------------------------------------
    news2 = os.path.join(rules, "news2.cdr")
    syms = c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri(news2)}})["result"]
    rule_syms = [s for s in syms if s["name"] == "news2"]
    lets_written = re.findall(r"^\s*let (\w+)", open(news2).read(), re.M)
    check(len(rule_syms) == 1 and [ch["name"] for ch in rule_syms[0]["children"]] == lets_written,
          "news2's outline lists its lets in order")

    # ---- formatting ---------------------------------------------------------------------
    messy = open(os.path.join(rules, "qsofa.cdr")).read().replace("  let altered =", "let    altered   =")
    qsofa = os.path.join(rules, "qsofa.cdr")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri(qsofa), "languageId": "cdr", "version": 1,
                                                       "text": messy}})
    fm = c.request("textDocument/formatting", {"textDocument": {"uri": uri(qsofa)},
                                               "options": {"tabSize": 2, "insertSpaces": True}})
    edits = fm["result"]
    mine = os.path.join(work, "messy.cdr")
    open(mine, "w").write(messy)
    subprocess.run([CDR, "fmt", mine], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    check(len(edits) == 1 and edits[0]["newText"] == open(mine).read(), "formatting gives what `cdr fmt` writes")
    check(edits and edits[0]["range"]["start"] == {"line": 0, "character": 0}
          and edits[0]["range"]["end"]["line"] == messy.count("\n"), "the edit covers the whole document")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri(qsofa), "version": 2},
                                        "contentChanges": [{"text": "rule broken version"}]})
    fm = c.request("textDocument/formatting", {"textDocument": {"uri": uri(qsofa)}, "options": {}})
    check("error" in fm and "syntax errors" in fm["error"]["message"], f"a file that does not parse: {fm}")
    c.notify("textDocument/didClose", {"textDocument": {"uri": uri(qsofa)}})
    q = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)}, "position": {"line": 0, "character": 0}})
    qd = c.diagnostics_for(uri(qsofa))
    check(all(x["severity"] != 1 for x in qd["diagnostics"]), "closed: the file on disk is checked again")

    # ---- bad messages -------------------------------------------------------------------
    r = c.request("textDocument/prepareTypeHierarchy", {"textDocument": {"uri": uri(shock)},
                                                         "position": {"line": 0, "character": 0}})
    check(r.get("error", {}).get("code") == -32601, f"an unknown method: {r}")
    c.send_raw(b"{not json")
    r = c.recv()
    check(r.get("error", {}).get("code") == -32700 and r.get("id") is None, f"malformed JSON: {r}")
    r = c.request("textDocument/hover", {"textDocument": {}})
    check(r.get("error", {}).get("code") == -32602, f"missing parameters: {r}")
    # A change whose range has no end (found by fuzz/fuzz_lsp.cpp: a const [] of a missing key
    # read past the object; under ASan, this test is the one that would see it again).
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri(shock), "version": 3},
                                        "contentChanges": [{"range": {"start": {"line": 0, "character": 0}},
                                                            "text": "x"}]})
    r = c.request("textDocument/didOpen", {"textDocument": {"uri": uri(shock), "text": ""}})
    check(r.get("error", {}).get("code") == -32600, f"a notification sent with an id is answered with an error: {r}")
    h = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)},
                                         "position": {"line": 8, "character": rp + 3}})
    check("schema `vitals`" in h["result"]["contents"]["value"], "the malformed change was ignored, the text unchanged")

    # ---- shutdown and exit -----------------------------------------------------------------
    r = c.request("shutdown", None)
    check(r.get("result", 1) is None, "shutdown answers null")
    r = c.request("textDocument/hover", {"textDocument": {"uri": uri(shock)}, "position": {"line": 0, "character": 0}})
    check(r.get("error", {}).get("code") == -32600, f"a request after shutdown fails: {r}")
    c.notify("exit", None)
    check(c.p.wait(10) == 0, "exit after shutdown: status 0")

    # ---- code points when the client asks for them; exit without shutdown --------------------
    c = Client(work)
    init = c.request("initialize", {"rootUri": uri(work),
                                    "capabilities": {"general": {"positionEncodings": ["utf-32", "utf-16"]}}})
    check(init["result"]["capabilities"]["positionEncoding"] == "utf-32", "utf-32 negotiated")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri(shock), "languageId": "cdr", "version": 1,
                                                       "text": shock_text}})
    d = c.diagnostics_for(uri(shock))
    errors = [x for x in d["diagnostics"] if x["severity"] == 1]
    check(errors and errors[0]["range"]["start"]["character"] == message_line.index("{rrr}"),
          "utf-32: the column counts code points")
    c.notify("exit", None)
    check(c.p.wait(10) == 1, "exit without shutdown: status 1")

    # ---- a request before initialize; a broken header --------------------------------------
    c = Client(work)
    r = c.request("textDocument/hover", {})
    check(r.get("error", {}).get("code") == -32002, "a request before initialize")
    c.p.stdin.write(b"Content-Type: x\r\n\r\n{}")
    c.p.stdin.close()
    check(c.p.wait(10) == 2 and b"Content-Length" in c.p.stderr.read(), "a header without Content-Length: status 2")

    # ---- a folder too big to be one rule set: a bounded walk, and the editor is told -------
    big = os.path.join(work, "big")
    os.makedirs(big)
    open(os.path.join(big, "ruleset.cdr"), "w").write("ruleset big retention 1 days\n")
    for i in range(5100):
        open(os.path.join(big, f"f{i}.txt"), "w").close()
    c = Client(work)
    c.request("initialize", {"rootUri": uri(big), "capabilities": {}})
    c.request("textDocument/hover", {"textDocument": {"uri": uri(os.path.join(big, "ruleset.cdr"))},
                                     "position": {"line": 0, "character": 0}})
    shown = [n for n in c.notes if n.get("method") == "window/showMessage"]
    check(len(shown) == 1 and "more than 5000" in shown[0]["params"]["message"], f"a capped rule set is said: {shown}")
    c.request("shutdown", None)
    c.notify("exit", None)
    check(c.p.wait(10) == 0, "exit after the big folder")
finally:
    shutil.rmtree(work, ignore_errors=True)

finish("lsp conversation")
