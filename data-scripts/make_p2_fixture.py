"""Runs an independent transcription of Open-dLLM's p2 loop (veomni/models/transformers/qwen2/generation_utils.py
`_mdm_sample`, alg == "p2", as fixed by Open-dLLM issue #7 / PR #12) on the golden tiny model and writes
tests/OpenDllm.Tests/Fixtures/golden/tiny/p2_reference.json, the fixture of the C# p2 parity test.

Usage: /usr/bin/python3 data-scripts/make_p2_fixture.py [--shared ../shared] [--out tests/OpenDllm.Tests/Fixtures]
(Debian's python3-torch 1.13; the model and the token choice come from ../shared/reference: qwen2_ref.Qwen2 and
mdlm_ref.sample_tokens.) Greedy, [MASK] logit suppressed (the C# default; a random model may otherwise pick it),
shifted logits. Cases include steps > generation length (the loop stops early once nothing is masked) and
#free = steps = 10, where the float32 remask count differs from exact arithmetic at step 8.
"""
import argparse
import json
import os
import sys

ap = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
ap.add_argument("--out", default=os.path.join(here, "..", "tests", "OpenDllm.Tests", "Fixtures"))
args = ap.parse_args()
sys.path.insert(0, os.path.join(os.path.abspath(args.shared), "reference"))

import torch  # noqa: E402
from qwen2_ref import Qwen2, load_config  # noqa: E402
from mdlm_ref import sample_tokens  # noqa: E402


@torch.no_grad()
def p2_generate(model, prompt, gen_len, steps, mask_id):
    """The upstream p2 loop for a prompt without padding; returns (x, forwards, per-step (remasked, decoded) counts)."""
    rows = prompt.shape[0]
    x = torch.cat([prompt, torch.full((rows, gen_len), mask_id, dtype=prompt.dtype)], dim=1)
    fixed = x != mask_id                                  # the prompt: never re-masked
    forwards, trace = 0, []
    for i in range(steps):
        masked = x == mask_id
        if not masked.any():                              # the upstream early stop
            break
        logits = model(x, causal=False)
        forwards += 1
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)     # shifted model
        logits[..., mask_id] = float("-inf")
        width, vocab = logits.shape[1], logits.shape[2]
        conf, x0 = sample_tokens(logits.reshape(-1, vocab), temperature=0.0, alg="maskgit_plus")   # p(x0) everywhere
        conf, x0 = conf.reshape(rows, width), x0.reshape(rows, width)
        conf[fixed] = float("inf")
        kappa = (i + 1) / steps
        n_free = (~fixed).sum(dim=1, keepdim=True)
        n_remask = (n_free.float() * (1 - kappa)).long()                 # float32 product, truncated
        order = torch.argsort(conf, dim=-1)                               # ascending: least confident first
        top = int(n_remask.max())
        take = torch.arange(top).unsqueeze(0) < n_remask
        remask = torch.zeros_like(x, dtype=torch.bool)
        remask[torch.arange(rows).unsqueeze(1).expand(-1, top)[take], order[:, :top][take]] = True
        decoded_before = (~masked & ~fixed)
        x[remask] = mask_id
        fill = masked & ~remask
        x[fill] = x0[fill]
        trace.append({"remasked": int((remask & decoded_before).sum()), "filled": int(fill.sum()),
                      "remask_count": n_remask.squeeze(1).tolist()})
    return x, forwards, trace


torch.set_num_threads(1)
model_dir = os.path.join(os.path.abspath(args.out), "golden", "tiny")
cfg = load_config(os.path.join(model_dir, "config.json"))
model = Qwen2(cfg).load(os.path.join(model_dir, "model.safetensors")).eval()
with open(os.path.join(model_dir, "inputs.json")) as f:
    inputs = json.load(f)
ids = torch.tensor(inputs["input_ids"])
mask_id = inputs["mask_token_id"]
cases = []
for rows, prompt_len, gen_len, steps in ((1, 8, 16, 16), (1, 8, 16, 5), (2, 4, 12, 4), (2, 6, 20, 7),
                                         (1, 3, 10, 10), (1, 4, 10, 12), (2, 5, 6, 9)):
    prompt = ids[:rows, :prompt_len].clone()
    y, forwards, trace = p2_generate(model, prompt, gen_len, steps, mask_id)
    cases.append({"prompt": prompt.tolist(), "gen_len": gen_len, "steps": steps, "output": y.tolist(),
                  "forwards": forwards, "trace": trace})
out = os.path.join(model_dir, "p2_reference.json")
with open(out, "w") as f:
    json.dump({"producer": "data-scripts/make_p2_fixture.py", "torch": torch.__version__, "mask_token_id": mask_id,
               "alg": "p2", "upstream": "pengzhangzhi/Open-dLLM generation_utils.py after issue #7 / PR #12",
               "temperature": 0.0, "shift": True, "suppress_mask_token": True, "cases": cases}, f, indent=1)
print(f"wrote {out}: {len(cases)} cases, forwards {[c['forwards'] for c in cases]} for steps {[c['steps'] for c in cases]}")
