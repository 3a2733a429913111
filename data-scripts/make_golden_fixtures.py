"""Makes the golden fixtures of tests/OpenDllm.Tests/Fixtures/golden from the PyTorch reference in ../shared/reference.

Usage (Debian's torch: `apt-get install python3-torch`, then run with the system interpreter):
    /usr/bin/python3 data-scripts/make_golden_fixtures.py [--shared ../shared] [--out tests/OpenDllm.Tests/Fixtures]

Writes:
  golden/tiny/                 a copy of ../shared/reference/golden/tiny (generated data, copied so tests run anywhere)
  golden/tiny_untied_hd24/     a second case of our own: untied lm_head, head_dim 24 (≠ hidden/heads = 16),
                               rope_theta 10000, 3 layers, 4 heads / 1 kv head; golden outputs made by golden.py `run`
  qwen2.5-coder-0.5b.state_dict.txt
                               `name: [shape]` of every parameter of the reference model built for Qwen2.5-Coder-0.5B
                               on the meta device (no weights allocated), in HF file order (sorted by name)
"""
import argparse
import json
import os
import shutil
import sys

ap = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
ap.add_argument("--out", default=os.path.join(here, "..", "tests", "OpenDllm.Tests", "Fixtures"))
args = ap.parse_args()
ref = os.path.join(os.path.abspath(args.shared), "reference")
sys.path.insert(0, ref)

import torch  # noqa: E402
from qwen2_ref import Qwen2, init_random  # noqa: E402
import golden  # noqa: E402

out = os.path.abspath(args.out)

# 1. the shared tiny case, copied verbatim
dst = os.path.join(out, "golden", "tiny")
os.makedirs(dst, exist_ok=True)
for name in ("config.json", "model.safetensors", "inputs.json", "golden.safetensors", "golden.json"):
    shutil.copyfile(os.path.join(ref, "golden", "tiny", name), os.path.join(dst, name))

# 2. our second case
torch.set_num_threads(1)
case = os.path.join(out, "golden", "tiny_untied_hd24")
os.makedirs(case, exist_ok=True)
cfg = dict(golden.TINY_CONFIG, tie_word_embeddings=False, head_dim=24, rope_theta=10000.0,
           num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=1, intermediate_size=96, vocab_size=257)
with open(os.path.join(case, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
model = init_random(Qwen2(cfg), seed=7).eval()
model.save(os.path.join(case, "model.safetensors"))
g = torch.Generator().manual_seed(7)
mask_id = cfg["vocab_size"] - 1
ids = torch.randint(0, mask_id, (3, 20), generator=g)
t = torch.tensor([0.2, 0.5, 0.9])
mask = torch.rand(3, 20, generator=g) < t[:, None]
mask[0, 0] = True
inputs = {"input_ids": ids.tolist(), "mask_token_id": mask_id, "mask": mask.int().tolist(), "t": t.tolist(),
          "sample": {"prompt_len": 6, "gen_len": 12, "steps": 12}}
with open(os.path.join(case, "inputs.json"), "w") as f:
    json.dump(inputs, f)
golden.run(case, os.path.join(case, "inputs.json"), case)

# 3. Qwen2.5-Coder-0.5B parameter listing on the meta device
cfg05 = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "hidden_size": 896,
    "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "vocab_size": 151936,
    "tie_word_embeddings": True, "use_sliding_window": False,
}
# torch 1.13 has no default-device context: route the parameter factories to the meta device instead.
orig_empty = torch.empty
def meta_empty(*a, **k):
    k["device"] = "meta"
    return orig_empty(*a, **k)
torch.empty = meta_empty
orig_ones = torch.ones
def meta_ones(*a, **k):
    k["device"] = "meta"
    return orig_ones(*a, **k)
torch.ones = meta_ones
try:
    m = Qwen2(cfg05)
finally:
    torch.empty, torch.ones = orig_empty, orig_ones
assert all(p.device.type == "meta" for p in m.parameters())
sd = m.hf_state_dict()
lines = [f"{k}: [{', '.join(str(s) for s in v.shape)}]" for k, v in sorted(sd.items())]
with open(os.path.join(out, "qwen2.5-coder-0.5b.state_dict.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
total = sum(v.numel() for v in sd.values())
print(f"wrote {case} and a 0.5B listing of {len(lines)} tensors, {total} parameters")
