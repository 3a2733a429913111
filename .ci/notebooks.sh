#!/usr/bin/env bash
# Executes every recipe notebook (notebooks/*.ipynb) headless with `opendllm notebook run`, parameters turned down to CI
# size, into out/notebooks/ (git-ignored). Stops at the first failing notebook, naming it and its failing cell. Cells run
# in the runner's worker process; a cell that hangs fails after --timeout-seconds (10 minutes here, 30 by default).
#   bash .ci/notebooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build OpenDllm.Cli -c Release --verbosity quiet >/dev/null
cli=OpenDllm.Cli/bin/Release/net10.0/opendllm.dll
mkdir -p out/notebooks
declare -A params=(
  [01-data]="--param maxDocuments=100"
  [02-train]="--param steps=40"
  [03-checkpoints]=""
  [04-sample-and-visualise]="--param trainSteps=60 --param length=24"
  [05-evaluate]="--param tasks=5"
  [06-ablate-schedules-and-masking]="--param steps=20"
  [07-property-tests]=""
  [08-block-diffusion]="--param steps=40 --param length=16"
  [09-ar-to-diffusion]="--param arSteps=10 --param steps=10 --param evalEvery=5 --param evalBatches=2 --param infillTasks=2 --param root=runs/notebooks/09"
  [10-latent-diffusion]="--param encoder=tiny --param maxDocuments=200 --param steps=30 --param evalEvery=10 --param evalBatches=2 --param readEvery=3"
  [11-infill-ar-vs-diffusion]="--param steps=10 --param evalEvery=5 --param evalBatches=2 --param infillTasks=2 --param fixedLengths=8,16 --param maxMiddleTokens=24 --param root=runs/notebooks/11"
)
start=$(date +%s)
for nb in notebooks/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  t0=$(date +%s)
  # shellcheck disable=SC2086
  if ! dotnet "$cli" notebook run "$nb" ${params[$name]:-} --timeout-seconds 600 --output "out/notebooks/$name.ipynb" > "out/notebooks/$name.log" 2>&1; then
    tail -n 20 "out/notebooks/$name.log"
    echo "notebooks: FAILED: $nb"
    exit 1
  fi
  echo "ok    $nb  ($(( $(date +%s) - t0 )) s)"
done
grep -q 'class=\\"tok' out/notebooks/04-sample-and-visualise.ipynb || { echo "notebooks: 04 has no trajectory viewer output"; exit 1; }
grep -q 'class=\\"tok' out/notebooks/10-latent-diffusion.ipynb || { echo "notebooks: 10 has no trajectory viewer output"; exit 1; }
grep -q 'K·p = ' out/notebooks/10-latent-diffusion.ipynb || { echo "notebooks: 10 has no adaptive sampler heatmap"; exit 1; }
echo "notebooks: all passed in $(( $(date +%s) - start )) s; executed copies in out/notebooks/"
