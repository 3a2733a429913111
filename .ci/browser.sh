#!/usr/bin/env bash
# Browser tests of OpenDllm's HTML pages: headless Debian chromium driven by playwright-core, offline (PLATFORM.md §5).
#   bash .ci/browser.sh                      # the hand-made trajectory fixture
#   bash .ci/browser.sh out/a.html out/b.html
# Installs chromium with apt when it is missing, runs `npm ci` in test-fixtures/browser, proves the checker rejects the
# deliberately broken pages in test-fixtures/browser/broken/, then checks the given pages (test-fixtures/browser/check-pages.mjs:
# no console/page errors, no network, trajectory-viewer contract). Screenshots go to $BROWSER_SCREENSHOTS (default
# out/browser-screenshots, git-ignored).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)

pages=()
for p in "$@"; do
  case $p in /*) pages+=("$p") ;; *) pages+=("$caller/$p") ;; esac
done
(( ${#pages[@]} > 0 )) || pages=("$root/test-fixtures/browser/fixture-trajectory.html")
shots=${BROWSER_SCREENSHOTS:-$root/out/browser-screenshots}
case $shots in /*) ;; *) shots="$caller/$shots" ;; esac

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  echo "== installing Debian chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
echo "== $(${CHROMIUM:-/usr/bin/chromium} --version 2>/dev/null | head -n 1)"

echo "== npm ci (test-fixtures/browser)"
(cd test-fixtures/browser && npm ci --no-audit --no-fund --silent)

cd test-fixtures/browser
echo "== checker self-test: every page in broken/ must be rejected"
for bad in broken/*.html; do
  if node check-pages.mjs "$bad" --screenshots "$shots/broken" >/tmp/opendllm-broken.$$ 2>&1; then
    cat /tmp/opendllm-broken.$$; rm -f /tmp/opendllm-broken.$$
    echo "browser: FAILED: check-pages.mjs accepted the deliberately broken page $bad"
    exit 1
  fi
  echo "   rejected $bad: $(grep -m1 -- '        - ' /tmp/opendllm-broken.$$ | sed 's/^ *- //')"
  rm -f /tmp/opendllm-broken.$$
done

echo "== pages"
status=0
node check-pages.mjs "${pages[@]}" --screenshots "$shots" || status=$?
echo "browser: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s; screenshots in $shots"
exit $status
