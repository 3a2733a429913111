#!/usr/bin/env python3
"""Compares two training runs of OpenDllm step by step: the per-step losses in metrics.jsonl, and the final checkpoints'
model.safetensors weights. Standard library only (no torch), so CI can run it anywhere.

    compare_runs.py RUN_A RUN_B [--steps N] [--loss-tol 1e-5] [--weight-tol 1e-4]

Exit 0 when every step 1..N has a loss in both runs with |a - b| <= loss-tol, and every weight of the newest
checkpoints differs by at most weight-tol (absolute). Prints the largest differences either way.
"""
import argparse, glob, json, os, struct, sys
from array import array


def losses(run):
    out = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if "loss" in record:
                out[record["step"]] = record["loss"]
    return out


def weights(run):
    checkpoints = sorted(glob.glob(os.path.join(run, "checkpoint-*")))
    if not checkpoints:
        sys.exit(f"{run}: no checkpoint")
    path = os.path.join(checkpoints[-1], "model.safetensors")
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {entry['dtype']}; only F32 is compared")
        start, end = entry["data_offsets"]
        values = array("f")
        values.frombytes(data[start:end])
        tensors[name] = values
    return checkpoints[-1], tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a"); p.add_argument("b")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--loss-tol", type=float, default=1e-5)
    p.add_argument("--weight-tol", type=float, default=1e-4)
    args = p.parse_args()
    ok = True
    la, lb = losses(args.a), losses(args.b)
    worst = (0.0, None)
    for step in range(1, args.steps + 1):
        if step not in la or step not in lb:
            print(f"step {step}: loss missing in {'A' if step not in la else 'B'}"); ok = False; continue
        d = abs(la[step] - lb[step])
        if d > worst[0]: worst = (d, step)
        if d > args.loss_tol:
            print(f"step {step}: loss {la[step]:.8f} vs {lb[step]:.8f} (|diff| {d:.3g} > {args.loss_tol:g})"); ok = False
    print(f"losses: {args.steps} steps, largest |diff| {worst[0]:.3g}" + (f" at step {worst[1]}" if worst[1] else ""))
    ca, wa = weights(args.a)
    cb, wb = weights(args.b)
    if sorted(wa) != sorted(wb):
        print(f"checkpoints hold different tensors: {ca}, {cb}"); ok = False
    else:
        largest, where = 0.0, None
        for name in wa:
            x, y = wa[name], wb[name]
            d = max((abs(u - v) for u, v in zip(x, y)), default=0.0)
            if d > largest: largest, where = d, name
        print(f"weights: {os.path.basename(ca)} vs {os.path.basename(cb)}, largest |diff| {largest:.3g}" + (f" in {where}" if where else ""))
        if largest > args.weight_tol:
            print(f"weights differ by more than {args.weight_tol:g}"); ok = False
    print("agree" if ok else "DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
