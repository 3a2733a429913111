#!/usr/bin/env bash
# The test command: installs the npm test fixtures if missing, builds, runs every test,
# and ends with a plain "N passed, N failed, N skipped" line.
set -uo pipefail
cd "$(dirname "$0")"

if [ -f test-fixtures/npm/package.json ] && [ ! -d test-fixtures/npm/node_modules ]; then
  (cd test-fixtures/npm && npm ci --no-audit --no-fund --silent) || { echo "npm ci failed in test-fixtures/npm"; exit 1; }
fi

log=$(mktemp)
dotnet test OpenDllm.Notebooks.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
while read -r f p s; do
  failed=$((failed + f)); passed=$((passed + p)); skipped=$((skipped + s))
done < <(sed -nE 's/.*(Passed|Failed)! +- +Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\2 \3 \4/p' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
