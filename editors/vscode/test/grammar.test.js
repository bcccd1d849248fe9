// editors/vscode/test/grammar.test.js: the TextMate grammar, run by the engine VS Code uses
// (vscode-textmate with the Oniguruma regex library), over the shipped rules. Checks the
// scopes of constructs found in the files' text and that no construct stays open at the end
// of a file. Usage: node test/grammar.test.js SOURCE_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const oniguruma = require('vscode-oniguruma');
const vsctm = require('vscode-textmate');

const source = process.argv[2] || path.join(__dirname, '..', '..', '..');
let checks = 0;
let failures = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL: ${what}`);
  }
}

async function main() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      if (scope !== 'source.cdr') return null;
      const file = path.join(__dirname, '..', 'syntaxes', 'cdr.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  const grammar = await registry.loadGrammar('source.cdr');

  // The scopes of the token that starts at `column` of `line` (innermost last).
  function scopesAt(tokens, column) {
    const t = tokens.find((x) => x.startIndex <= column && column < x.endIndex);
    return t ? t.scopes : [];
  }
  const dir = path.join(source, 'rules');
  const files = fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.cdr'));
  const initialDepth = grammar.tokenizeLine('', vsctm.INITIAL).ruleStack.depth;
  const seen = {};
  for (const f of files) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    let stack = vsctm.INITIAL;
    for (const line of lines) {
      const r = grammar.tokenizeLine(line, stack);
      stack = r.ruleStack;
      const expect = (re, group, scope, what) => {
        const m = new RegExp(re.source, 'd').exec(line);
        if (!m) return;
        const col = m.indices[group][0];
        const scopes = scopesAt(r.tokens, col);
        check(scopes.includes(scope), `${f}: ${what} \`${m[group]}\` is ${scope}: [${scopes}] in ${line}`);
        seen[what] = (seen[what] || 0) + 1;
      };
      expect(/^\s*(\/\/.*)/, 1, 'comment.line.double-slash.cdr', 'a comment');
      expect(/^rule (\w+)/, 1, 'entity.name.type.cdr', 'a rule name');
      expect(/^\s*let (\w+)/, 1, 'variable.other.definition.cdr', 'a let');
      expect(/^\s*(when)\b/, 1, 'keyword.control.cdr', 'when');
      expect(/\b(last|count|mean|min|max)\(/, 1, 'support.function.cdr', 'a call');
      expect(/^[^/"]*('[^']*')/, 1, 'string.quoted.single.cdr', 'a unit');
      expect(/^[^/]*"[^"]*(\{\w+\})/, 1, 'variable.other.placeholder.cdr', 'a placeholder');
      expect(/within (\d+(h|min|d))\b/, 1, 'constant.numeric.duration.cdr', 'a duration');
      expect(/^\s*(signal) \w+/, 1, 'storage.type.cdr', 'a signal declaration');
    }
    check(stack.depth === initialDepth, `${f}: every string and comment is closed at the end`);
  }
  for (const what of ['a comment', 'a rule name', 'a let', 'when', 'a call', 'a unit', 'a placeholder', 'a duration',
    'a signal declaration']) {
    check((seen[what] || 0) > 0, `the shipped rules have ${what}`);
  }
  // A string left open on its line does not run into the next (the editor's colours recover).
  let r = grammar.tokenizeLine('when x alert high "open', vsctm.INITIAL);
  r = grammar.tokenizeLine('let y = 1', r.ruleStack);
  check(scopesAt(r.tokens, 0).includes('storage.type.cdr'), 'an unterminated string ends at its line');
  console.log(`grammar: ${checks - failures} of ${checks} checks passed (${files.length} files)`);
  process.exit(failures ? 1 : 0);
}
main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
