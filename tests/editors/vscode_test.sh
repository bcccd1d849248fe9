#!/usr/bin/env bash
# tests/editors/vscode_test.sh: the VS Code extension (editors/vscode) builds with npm from its
# lock file, its TextMate grammar scopes the shipped rules as expected (run by vscode-textmate,
# the engine VS Code uses), and its manifest points at files that exist.
# Usage: vscode_test.sh SOURCE_DIR   (needs npm and the npm registry)
set -euo pipefail
src=$1
if ! command -v npm >/dev/null; then
  echo "vscode_test: npm is not installed (scripts/setup installs it)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy without what a local build left (node_modules, out): the build starts from the lock file.
tar -C "$src/editors" --exclude=node_modules --exclude=out -cf - vscode | tar -C "$work" -xf -
cd "$work/vscode"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent compile
test -s out/extension.js || { echo "FAIL: tsc wrote no out/extension.js" >&2; exit 1; }
node -e '
  const p = require("./package.json"), fs = require("fs");
  const files = [p.main, ...p.contributes.languages.map((l) => l.configuration), ...p.contributes.grammars.map((g) => g.path)];
  for (const f of files) if (!fs.existsSync(f)) { console.log("FAIL: package.json names a missing file " + f); process.exit(1); }
  if (!p.activationEvents.includes("onLanguage:cdr")) { console.log("FAIL: not activated by .cdr files"); process.exit(1); }
  JSON.parse(fs.readFileSync("language-configuration.json", "utf8"));
  console.log("manifest: " + files.length + " files present");
'
npm test --silent -- "$src"
