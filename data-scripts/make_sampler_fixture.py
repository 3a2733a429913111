"""Runs the reference sampler (../shared/reference/mdlm_ref.py `diffusion_generate`) on the golden tiny model and writes
tests/OpenDllm.Tests/Fixtures/golden/tiny/sampler_reference.json, the fixture of the C# sampler parity test.

Usage: /usr/bin/python3 data-scripts/make_sampler_fixture.py [--shared ../shared] [--out tests/OpenDllm.Tests/Fixtures]
Cases: greedy maskgit_plus, [MASK] suppressed, shifted logits, both schedules the reference offers ("dream", "uniform"),
several (prompt, length, steps) settings, prompts taken from the golden inputs.
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
ref = os.path.join(os.path.abspath(args.shared), "reference")
sys.path.insert(0, ref)

import torch  # noqa: E402
from qwen2_ref import Qwen2, load_config  # noqa: E402
from mdlm_ref import diffusion_generate  # noqa: E402

torch.set_num_threads(1)
model_dir = os.path.join(os.path.abspath(args.out), "golden", "tiny")
cfg = load_config(os.path.join(model_dir, "config.json"))
model = Qwen2(cfg).load(os.path.join(model_dir, "model.safetensors")).eval()
with open(os.path.join(model_dir, "inputs.json")) as f:
    inputs = json.load(f)
ids = torch.tensor(inputs["input_ids"])
mask_id = inputs["mask_token_id"]
cases = []
for schedule in ("dream", "uniform"):
    for rows, prompt_len, gen_len, steps in ((1, 8, 16, 16), (1, 8, 16, 5), (2, 4, 12, 4), (2, 6, 20, 7), (1, 3, 10, 10)):
        prompt = ids[:rows, :prompt_len].clone()
        with torch.no_grad():
            y, info = diffusion_generate(model, prompt, gen_len=gen_len, steps=steps, mask_id=mask_id, alg="maskgit_plus",
                                         temperature=0.0, schedule=schedule, suppress_mask_token=True, shift=True,
                                         return_trace=True)
        cases.append({"schedule": schedule, "prompt": prompt.tolist(), "gen_len": gen_len, "steps": steps,
                      "output": y.tolist(), "forwards": info["forwards"], "unmasked_per_step": info["unmasked_per_step"]})
out = os.path.join(model_dir, "sampler_reference.json")
with open(out, "w") as f:
    json.dump({"producer": "data-scripts/make_sampler_fixture.py", "torch": torch.__version__, "mask_token_id": mask_id,
               "alg": "maskgit_plus", "temperature": 0.0, "eps": 1e-3, "shift": True, "suppress_mask_token": True,
               "cases": cases}, f, indent=1)
print(f"wrote {out}: {len(cases)} cases")
