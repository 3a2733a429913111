#!/usr/bin/env bash
# Runs every file-based recipe (recipes/*.cs, with `dotnet run recipes/NAME.cs`, exactly as a user does) in small mode,
# then the F# REPL recipe (`dotnet fsi recipes/fsharp-repl.fsx`) against the Release build of OpenDllm.Cli, then a short
# BERT → diffusion run (convert MiniLM, recipes/bert-to-dlm.yaml for 3 steps, infill) and a short LDLM run
# (recipes/ldlm-tiny.yaml on a briefly trained quickstart encoder, sample --method ldlm, report), and `sample --live` under a
# pseudo-terminal (.ci/live.sh).
# Stops at the first failure, naming the recipe; prints each recipe's time and the total.
#   bash .ci/recipes.sh              # from anywhere; outputs go to runs/recipes/ (git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export OPENDLLM_RECIPE_SMALL=1          # every recipe's CI size
start=$(date +%s.%N)
timings=()

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

run_step() {                            # run_step NAME COMMAND...
  local name=$1; shift
  local t0 log
  t0=$(date +%s.%N)
  log=$(mktemp)
  echo "== recipe $name: $*"
  local status=0
  "$@" >"$log" 2>&1 || status=$?
  if (( status != 0 )); then
    tail -n 40 "$log"
    rm -f "$log"
    echo "recipes: FAILED: $name (exit $status after $(elapsed "$t0") s): $*"
    exit 1
  fi
  tail -n 6 "$log" | sed 's/^/   | /'
  rm -f "$log"
  local s; s=$(elapsed "$t0")
  timings+=("$(printf '%-22s %6s s' "$name" "$s")")
  echo "   ok in $s s"
}

# the .fsx loads the Release output folder; build it once (the .cs recipes build what they need themselves)
run_step "build (Release)" dotnet build OpenDllm.Cli -c Release -v q -nologo

# train-tiny first: sample.cs reads its checkpoint (runs/recipes/tiny); then every other recipe in name order
recipes=(recipes/train-tiny.cs)
for f in recipes/*.cs; do [[ $f == recipes/train-tiny.cs ]] || recipes+=("$f"); done
for f in "${recipes[@]}"; do
  run_step "$(basename "$f")" dotnet run "$f"
done
for f in recipes/*.fsx; do
  run_step "$(basename "$f")" dotnet fsi "$f"
done

# sample --live under a pseudo-terminal, on the tiny checkpoint train-tiny.cs wrote; one captured frame is checked
run_step "sample --live (pty)" bash .ci/live.sh "$(ls -d runs/recipes/tiny/checkpoint-* | tail -1)"

# BERT → diffusion on the real MiniLM weights (recipes/bert-to-dlm.yaml), CI size: convert the package's ONNX model,
# train 3 steps on 300 docstrings, then infill English text with the checkpoint
cli=OpenDllm.Cli/bin/Release/net10.0/opendllm.dll
bert=runs/recipes/bert
rm -rf "$bert"
run_step "convert minilm" dotnet "$cli" convert minilm --output "$bert/minilm"
run_step "bert-to-dlm.yaml" dotnet "$cli" train recipes/bert-to-dlm.yaml --model.init_from="$bert/minilm" --data.tokenizer="$bert/minilm" \
  --data.prepare_dir="$bert/data" --data.max_documents=300 --train.max_steps=3 --train.eval_every=0 --train.eval_batches=2 \
  --train.output_dir="$bert/run"
printf 'Return the number of items in the' > "$bert/prefix.txt"; printf ' queue.' > "$bert/suffix.txt"
run_step "bert infill" dotnet "$cli" infill "$(ls -d "$bert"/run/checkpoint-* | tail -1)" --prefix-file "$bert/prefix.txt" \
  --suffix-file "$bert/suffix.txt" --length 4 --steps 4

# LDLM (recipes/ldlm-tiny.yaml), CI size: a 12-second quickstart as the frozen encoder (the recipe's base run, trained
# here with a shorter budget), 20 LDLM steps, unconditional sampling with a trajectory, and the run's report page
ldlm=runs/recipes/ldlm
rm -rf "$ldlm"
run_step "ldlm encoder" dotnet "$cli" train recipes/quickstart.yaml --train.max_minutes=0.2 --train.eval_every=0 --train.eval_batches=2 \
  --train.output_dir="$ldlm/quickstart"
run_step "ldlm-tiny.yaml" dotnet "$cli" train recipes/ldlm-tiny.yaml --model.init_from_recipe=null \
  --model.init_from="$(ls -d "$ldlm"/quickstart/checkpoint-* | tail -1)" --train.max_steps=20 --train.eval_every=10 --train.eval_batches=2 \
  --train.ldlm.validation_samples=2 --train.output_dir="$ldlm/run"
run_step "ldlm sample" dotnet "$cli" sample "$(ls -d "$ldlm"/run/checkpoint-* | tail -1)" --method ldlm --count 2 --steps 4 \
  --trajectory "$ldlm/trajectory.json"
run_step "ldlm report" dotnet "$cli" report "$ldlm/run"

echo "== recipe timings"
printf '   %s\n' "${timings[@]}"
echo "recipes: all passed in $(elapsed "$start") s"
