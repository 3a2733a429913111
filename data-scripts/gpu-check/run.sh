#!/usr/bin/env bash
# The OpenDllm GPU check, on a Linux x64 machine with PyTorch (a CUDA build, torch >= 2.10) and a GPU; no .NET needed.
# Put this file next to opendllm-gpu-check.tar.xz (both written by pack.sh) and run:
#
#   bash run.sh [OUTDIR]          (default OUTDIR: $OUT/gpu-check when OUT is set, else ./gpu-check-out)
#
# It runs, each with its log in OUTDIR:
#   1. opendllm doctor             which libtorch was loaded (path, real version, CUDA build), CUDA devices
#   2. the device tests            every [Theory, OnCpu, OnCuda] test (trait Device=cuda), xunit console runner
#   3. a short training run        recipes/quickstart.yaml, bfloat16, a few dozen steps, on CUDA
#   4. sampling                    from that checkpoint
#   5. opendllm bench samplers     tokens/s of every sampler family on the bench model, on CUDA
#   6. batched eval                eval humaneval on the step-3 checkpoint at --batch-size 1 and 8 (HumanEval bundled by
#                                  pack.sh): generation seconds of each and the speedup, generated tokens only
#   7. NCCL, world size 1          opendllm launch --nproc-per-node 1: bench collectives, then 10 training steps (CUDA only)
# and writes OUTDIR/summary.json. Exit code 0 when every step passed.
#
# Environment: OPENDLLM_LIBTORCH (default auto: the torch of OPENDLLM_PYTHON, default python3),
# OPENDLLM_GPU_CHECK_DEVICE (default: cuda when doctor sees CUDA, else cpu; the CUDA test rows then skip),
# OPENDLLM_GPU_CHECK_STEPS (training steps, default 40; 8 on the CPU), OPENDLLM_GPU_CHECK_BENCH_LENGTH (new tokens per
# sampler, default 256; 32 on the CPU), OPENDLLM_GPU_CHECK_EVAL_LIMIT (HumanEval problems of the batched eval, default 32;
# 4 on the CPU), OPENDLLM_GPU_CHECK_TMP (unpack folder).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle="$here/opendllm-gpu-check.tar.xz"
[ -f "$bundle" ] || { echo "run.sh: $bundle not found (run pack.sh and copy both files)" >&2; exit 2; }
if [ $# -ge 1 ]; then out=$1; elif [ -n "${OUT:-}" ]; then out="$OUT/gpu-check"; else out="$PWD/gpu-check-out"; fi
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=${OPENDLLM_GPU_CHECK_TMP:-${TMPDIR:-/tmp}/opendllm-gpu-check}

# Unpack once per bundle (again when the archive changed).
stamp=$(cksum < "$bundle" | cut -d' ' -f1)
if [ "$(cat "$work/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$work"; mkdir -p "$work"
    tar xJf "$bundle" -C "$work" || { echo "run.sh: could not unpack $bundle" >&2; exit 2; }
    echo "$stamp" > "$work/.stamp"
fi

export DOTNET_ROOT="$work/dotnet" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export OPENDLLM_LIBTORCH=${OPENDLLM_LIBTORCH:-auto}
# Diagnosis only: OPENDLLM_GPU_CHECK_LD_LIBRARY_PATH=1 also puts the torch/lib folder on LD_LIBRARY_PATH (the route the
# issue author used), to tell a preloading problem from anything else. Off by default: the check tests OPENDLLM_LIBTORCH.
if [ "${OPENDLLM_GPU_CHECK_LD_LIBRARY_PATH:-0}" = 1 ]; then
    torch_lib=$("${OPENDLLM_PYTHON:-python3}" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('torch').origin), 'lib'))")
    export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
dotnet="$work/dotnet/dotnet"
cli=("$dotnet" "$work/app/opendllm.dll")
steps_json=()
failed=0

# step NAME TIMEOUT_S COMMAND...: runs with a time limit, output to NAME.log, records exit code and seconds.
step() {
    local name=$1 limit=$2; shift 2
    local start end rc
    echo "== $name: $*" | tee "$out/$name.log"
    start=$(date +%s.%N)
    timeout --kill-after=30 "$limit" "$@" >> "$out/$name.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    local secs; secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    [ "$rc" -eq 0 ] || failed=1
    echo "   exit $rc after $secs s (log: $out/$name.log)"
    steps_json+=("{\"name\": \"$name\", \"exit_code\": $rc, \"seconds\": $secs, \"log\": \"$name.log\"}")
    return "$rc"
}

# text → the inside of a JSON string (lines joined with "; ")
json_escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\r' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }'; }

{
    cat "$work/MANIFEST"
    echo "host: $(uname -srm)"
    echo "OPENDLLM_LIBTORCH=$OPENDLLM_LIBTORCH  OPENDLLM_PYTHON=${OPENDLLM_PYTHON:-python3}  LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
} > "$out/environment.txt" 2>&1

# 1. doctor (table for people, JSON for this script)
step doctor 300 "${cli[@]}" doctor
"${cli[@]}" doctor --json > "$out/doctor.json" 2>> "$out/doctor.log"

device=${OPENDLLM_GPU_CHECK_DEVICE:-}
if [ -z "$device" ]; then
    if grep -q '"CUDA available": "yes' "$out/doctor.json" 2>/dev/null; then device=cuda; else device=cpu; fi
fi
echo "device for training and benchmarks: $device"

# 2. device tests: [Theory, OnCpu, OnCuda] methods carry the trait Device=cuda (both rows run; the CUDA row skips without CUDA)
step device-tests 1200 "$dotnet" "$work/tests/xunit.console.dll" "$work/tests/OpenDllm.Tests.dll" \
    -trait Device=cuda -xml "$out/device-tests.xml" -nocolor
xml_count() { grep -o '<assembly [^>]*>' "$out/device-tests.xml" 2>/dev/null | head -1 | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9][0-9]*'; }
if [ -n "$(xml_count total)" ]; then
    tests_json="{\"total\": $(xml_count total), \"passed\": $(xml_count passed), \"failed\": $(xml_count failed), \"skipped\": $(xml_count skipped)}"
else
    tests_json=null
fi
if [ "$tests_json" = null ] || [ "$(xml_count total)" = 0 ]; then
    # xunit exits 0 when its filter matches nothing, e.g. when torch failed to load while the device attributes were read
    echo "   no device test ran (see doctor.log for a libtorch problem)" | tee -a "$out/device-tests.log"; failed=1
elif [ "$(xml_count failed)" != 0 ]; then
    failed=1
fi

# 3. a short training run from the quickstart preset, bfloat16
train_steps=${OPENDLLM_GPU_CHECK_STEPS:-$([ "$device" = cpu ] && echo 8 || echo 40)}
rm -rf "$out/train"
step train 1800 "${cli[@]}" train "$work/recipes/quickstart.yaml" --device "$device" \
    --train.dtype=bfloat16 --train.max_steps="$train_steps" --train.fit_steps_to_time=false --train.max_minutes=20 \
    --train.eval_every=0 --train.eval_batches=4 --train.save_every=0 --train.log_every=10 \
    --train.output_dir="$out/train" --data.prepare_dir="$work/data/python-stdlib"
checkpoint=$(sed -n 's/^checkpoint: //p' "$out/train.log" | tail -1)

# 4. sampling from the trained checkpoint
if [ -n "$checkpoint" ] && [ -d "$checkpoint" ]; then
    step sample 600 "${cli[@]}" sample "$checkpoint" --prompt "def main(argv):" --length 32 --steps 32 --device "$device"
else
    echo "== sample: skipped, training wrote no checkpoint" | tee "$out/sample.log"; failed=1
    steps_json+=("{\"name\": \"sample\", \"exit_code\": null, \"seconds\": 0, \"log\": \"sample.log\"}")
fi

# 5. the sampler benchmark (shorter generations off the GPU, where it is only a smoke test)
bench_length=${OPENDLLM_GPU_CHECK_BENCH_LENGTH:-$([ "$device" = cpu ] && echo 32 || echo 256)}
step bench-samplers 1200 "${cli[@]}" bench samplers --device "$device" --length "$bench_length" --out "$out/bench-samplers.json"

# 6. batched eval: the same greedy HumanEval completions at batch 1 and 8; generation time only (scoring excluded)
eval_limit=${OPENDLLM_GPU_CHECK_EVAL_LIMIT:-$([ "$device" = cpu ] && echo 4 || echo 32)}
eval_json=null
if [ -n "$checkpoint" ] && [ -d "$checkpoint" ] && [ -d "$work/data/benchmarks/humaneval" ]; then
    for b in 1 8; do
        step "eval-batch$b" 1800 "${cli[@]}" eval humaneval --checkpoint "$checkpoint" --data "$work/data/benchmarks" \
            --out "$out/eval-batch$b" --limit "$eval_limit" --max-new-tokens 128 --batch-size "$b" --device "$device" --force
    done
    eval_json=$("${OPENDLLM_PYTHON:-python3}" - "$out" <<'PY' 2>> "$out/eval-batch8.log" || echo null
import json, sys
r = {b: json.load(open(f"{sys.argv[1]}/eval-batch{b}/results.json"))["results"][0] for b in (1, 8)}
same = open(f"{sys.argv[1]}/eval-batch1/samples_completion.jsonl").read() == open(f"{sys.argv[1]}/eval-batch8/samples_completion.jsonl").read()
print(json.dumps({"generation_s_batch1": r[1]["generation_s"], "generation_s_batch8": r[8]["generation_s"],
                  "speedup": r[1]["generation_s"] / r[8]["generation_s"], "generated_tokens": r[1]["generated_tokens"],
                  "counted": "generated", "same_samples": same}))
PY
)
else
    echo "== eval-batch: skipped (no checkpoint, or HumanEval not bundled)" | tee "$out/eval-batch.log"
fi

# 7. NCCL at world size 1 (issue 17), CUDA only: a torchrun-style launch of one rank; the collectives checked and timed,
#    then a few data-parallel training steps whose gradients go through ncclAllReduce ("world size 1 (nccl)")
if [ "$device" = cuda ]; then
    step nccl-collectives 600 "${cli[@]}" launch --nproc-per-node 1 --master-port 29531 -- bench collectives --device cuda \
        --out "$out/nccl-collectives.json"
    rm -rf "$out/nccl-train"
    step nccl-train 900 "${cli[@]}" launch --nproc-per-node 1 --master-port 29532 -- train "$work/recipes/quickstart.yaml" \
        --device cuda --train.max_steps=10 --train.fit_steps_to_time=false --train.max_minutes=10 --train.eval_every=0 \
        --train.eval_batches=2 --train.save_every=0 --train.log_every=1 --train.output_dir="$out/nccl-train" \
        --data.prepare_dir="$work/data/python-stdlib"
    grep -q "world size 1 (nccl)" "$out/nccl-train.log" || { echo "   nccl-train: no 'world size 1 (nccl)' line" | tee -a "$out/nccl-train.log"; failed=1; }
fi

ok=$([ "$failed" -eq 0 ] && echo true || echo false)
{
    echo "{"
    echo "  \"ok\": $ok,"
    echo "  \"device\": \"$device\","
    echo "  \"opendllm_libtorch\": \"$(printf %s "$OPENDLLM_LIBTORCH" | json_escape)\","
    echo "  \"manifest\": \"$(json_escape < "$work/MANIFEST")\","
    echo "  \"doctor\": $(cat "$out/doctor.json" 2>/dev/null | grep -q '"facts"' && cat "$out/doctor.json" || echo null),"
    echo "  \"device_tests\": $tests_json,"
    echo "  \"train_checkpoint\": \"$(printf %s "$checkpoint" | json_escape)\","
    echo "  \"bench_samplers\": \"bench-samplers.json\","
    echo "  \"eval_batch\": $eval_json,"
    echo "  \"steps\": ["
    for i in "${!steps_json[@]}"; do
        sep=$([ "$i" -lt $((${#steps_json[@]} - 1)) ] && echo , || true)
        echo "    ${steps_json[$i]}$sep"
    done
    echo "  ]"
    echo "}"
} > "$out/summary.json"
echo "summary: $out/summary.json (ok: $ok)"
[ "$failed" -eq 0 ]
