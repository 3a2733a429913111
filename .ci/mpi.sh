#!/usr/bin/env bash
# Data-parallel checks over OpenMPI (issue 17): the quickstart recipe, 20 steps at global batch 8, one thread per process.
#  1. one process vs `mpirun -np 2`: per-step losses agree to 1e-5, final weights within fp32 reduction-order tolerance;
#  2. a 2-rank job stopped (SIGTERM to both ranks) after its step-10 checkpoint and resumed gives the uninterrupted losses.
#  3. ranks started with different recipes stop before any work, with the same one-line error on every rank.
# Needs openmpi-bin (.ci/run installs it). Output under runs/ci-mpi.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cli=(dotnet OpenDllm.Cli/bin/Release/net10.0/opendllm.dll)
mpi=(mpirun --oversubscribe -np 2)
out=runs/ci-mpi
rm -rf "$out"; mkdir -p "$out"
common=(recipes/quickstart.yaml --train.max_steps=20 --train.threads=1 --train.micro_batch_size=4 --train.global_batch_size=8
        --train.max_minutes=null --train.fit_steps_to_time=false --train.eval_every=0 --train.eval_batches=1 --train.log_every=1
        --train.save_every=10 --train.keep_last=1 --data.prepare_dir=runs/data/python-stdlib)

echo "-- one process"
"${cli[@]}" train "${common[@]}" --train.output_dir="$out/one" > "$out/one.log"
echo "-- two ranks"
"${mpi[@]}" "${cli[@]}" train "${common[@]}" --train.output_dir="$out/two" | tee "$out/two.log" | grep -F "world size 2 (mpi)"
python3 data-scripts/mpi/compare_runs.py "$out/one" "$out/two" --loss-tol 1e-5 --weight-tol 1e-4

echo "-- two ranks, stopped after step 10 and resumed"
"${mpi[@]}" "${cli[@]}" train "${common[@]}" --train.output_dir="$out/resume" > "$out/resume-1.log" 2>&1 &
launcher=$!
until [ -f "$out/resume/checkpoint-00000010/checkpoint_files.json" ] || ! kill -0 "$launcher" 2>/dev/null; do sleep 0.2; done
for pid in $(pgrep -P "$launcher"); do kill -TERM "$pid" 2>/dev/null || true; done     # the ranks, not mpirun
wait "$launcher" || true
grep -E "interrupted at step|finished 20 steps" "$out/resume-1.log" | head -1
"${mpi[@]}" "${cli[@]}" train "${common[@]}" --train.output_dir="$out/resume" > "$out/resume-2.log"
grep -F "resuming from" "$out/resume-2.log"
python3 data-scripts/mpi/compare_runs.py "$out/two" "$out/resume" --loss-tol 1e-6 --weight-tol 0

echo "-- ranks started with different recipes stop with the same error on every rank"
set +e
mismatch=$(mpirun --oversubscribe -np 1 "${cli[@]}" train "${common[@]}" --train.output_dir="$out/mismatch" --train.lr=1e-3 \
    : -np 1 "${cli[@]}" train "${common[@]}" --train.output_dir="$out/mismatch" 2>&1)
status=$?
set -e
[ "$status" -ne 0 ] || { echo "a job with two recipes ran"; exit 1; }
for rank in 0 1; do
    grep -F "error: rank $rank: the ranks of this job disagree: rank 1 has another recipe than rank 0" <<<"$mismatch" \
        || { echo "rank $rank did not report the mismatch:"; echo "$mismatch"; exit 1; }
done
[ ! -e "$out/mismatch" ] || [ -z "$(ls -A "$out/mismatch")" ] || { echo "the refused job wrote into its output folder"; exit 1; }
