#!/usr/bin/env bash
# Executes every recipe notebook (notebooks/*.ipynb) headless with `opendllm notebook run`, parameters turned down to CI
# size (notebooks/ci-parameters.txt), into out/notebooks/ (git-ignored), then again in the real .NET Interactive kernel
# with dotnet-repl 0.3.259 into out/notebooks-repl/. Stops at the first failing notebook, naming it and its failing cell. Cells run
# in the runner's worker process; a cell that hangs fails after --timeout-seconds (10 minutes here, 30 by default).
#   bash .ci/notebooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build OpenDllm.Cli -c Release --verbosity quiet >/dev/null
cli=OpenDllm.Cli/bin/Release/net10.0/opendllm.dll
mkdir -p out/notebooks
# CI sizes: notebooks/ci-parameters.txt, one line per notebook (NAME name=value ...).
params_of() { sed -n "s/^$1 *//p" notebooks/ci-parameters.txt | head -n 1; }
start=$(date +%s)
for nb in notebooks/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  t0=$(date +%s)
  p=$(params_of "$name")
  # shellcheck disable=SC2046
  if ! dotnet "$cli" notebook run "$nb" $(for kv in $p; do printf -- '--param %s ' "$kv"; done) --timeout-seconds 600 --output "out/notebooks/$name.ipynb" > "out/notebooks/$name.log" 2>&1; then
    tail -n 20 "out/notebooks/$name.log"
    echo "notebooks: FAILED: $nb"
    exit 1
  fi
  echo "ok    $nb  ($(( $(date +%s) - t0 )) s)"
done
grep -q 'class=\\"tok' out/notebooks/04-sample-and-visualise.ipynb || { echo "notebooks: 04 has no trajectory viewer output"; exit 1; }
grep -q 'class=\\"tok' out/notebooks/10-latent-diffusion.ipynb || { echo "notebooks: 10 has no trajectory viewer output"; exit 1; }
grep -q 'K·p = ' out/notebooks/10-latent-diffusion.ipynb || { echo "notebooks: 10 has no adaptive sampler heatmap"; exit 1; }
echo "notebooks: runner passed in $(( $(date +%s) - start )) s; executed copies in out/notebooks/"

# The same notebooks in the real .NET Interactive kernel, as a user runs them: dotnet-repl, packages from local-feed/
# (the repository's nuget.config names it), exit code 0 required. dotnet-repl cannot inject papermill parameters, so
# the CI sizes reach the notebook through OPENDLLM_NOTEBOOK_PARAMETERS, which OpenDllm's kernel extension applies after
# the parameters cell (a user running dotnet-repl sets nothing and gets the notebook's own defaults).
repl_dir=.ci-cache/tools
[ -x "$repl_dir/dotnet-repl" ] || dotnet tool install --tool-path "$repl_dir" dotnet-repl --version 0.3.259 >/dev/null
bash data-scripts/pack-local-feed.sh >/dev/null
mkdir -p out/notebooks-repl
start=$(date +%s)
for nb in notebooks/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  t0=$(date +%s)
  out="out/notebooks-repl/$name.ipynb"
  if ! OPENDLLM_NOTEBOOK_PARAMETERS="$(params_of "$name" | tr ' ' ';')" \
       "$repl_dir/dotnet-repl" --run "$nb" --exit-after-run --output-path "$out" > "out/notebooks-repl/$name.log" 2>&1; then
    tail -n 20 "out/notebooks-repl/$name.log"
    echo "notebooks (dotnet-repl): FAILED: $nb (its executed copy: $out)"
    exit 1
  fi
  # dotnet-repl 0.3.259 can exit 0 after a cell failed (seen here): an error output fails the step too.
  if grep -q '"output_type": *"error"' "$out"; then
    grep -o '"evalue": *"[^"]*' "$out" | head -n 3
    echo "notebooks (dotnet-repl): a cell of $nb failed (its executed copy: $out)"; exit 1
  fi
  # Where the runner's copy shows OpenDllm's HTML (class="odl-…"), the kernel's copy must too.
  if grep -q 'class=\\"odl-' "out/notebooks/$name.ipynb" && ! grep -q 'class=\\"odl-' "$out"; then
    echo "notebooks (dotnet-repl): $out lacks the OpenDllm HTML renderings that out/notebooks/$name.ipynb has"; exit 1
  fi
  echo "ok    $nb in dotnet-repl  ($(( $(date +%s) - t0 )) s)"
done
echo "notebooks: dotnet-repl passed in $(( $(date +%s) - start )) s; executed copies in out/notebooks-repl/"
