#!/usr/bin/env bash
# The whole test suite: set-up, type check of every TypeScript file, vitest.
# Ends with one line "N passed, N failed" read from vitest's JSON report, so a
# run that executed no test is visible.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/setup_torch.sh
bash scripts/setup_chromium.sh

status=0
echo "[test] type-checking (tsc --noEmit)" >&2
npx tsc --noEmit -p . || status=1
npx tsc --noEmit -p playground || status=1

rm -f .vitest-results.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json "$@" || status=1

node -e '
  const fs = require("fs");
  let r = { numPassedTests: 0, numFailedTests: 0 };
  try { r = JSON.parse(fs.readFileSync(".vitest-results.json", "utf8")); } catch {}
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
'
exit $status
