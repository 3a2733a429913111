"""Makes tests/OpenDllm.Tests/Fixtures/peft/tiny_lora: a LoRA adapter in PEFT's on-disk layout for the golden tiny model
(tests/OpenDllm.Tests/Fixtures/golden/tiny), and the logits PyTorch computes with it.

Usage (Debian's torch 1.13, no other package):
    /usr/bin/python3 data-scripts/make_peft_fixture.py [--shared ../shared] [--out tests/OpenDllm.Tests/Fixtures]

The `peft` package is not installed on the machines this project is built on, so the files are written by hand in the
layout PEFT documents and produces (`PeftModel.save_pretrained`): adapter_config.json with the keys of PEFT 0.13's
LoraConfig, and adapter_model.safetensors with keys `base_model.model.<module path>.lora_A.weight` [r, in] and
`...lora_B.weight` [out, r]. The logits come from the reference Qwen2 (../shared/reference/qwen2_ref.py) with every
targeted nn.Linear wrapped as PEFT's unmerged LoRA layer computes it: y = base(x) + (alpha / r) * B(A(x)) (eval mode, so
no dropout).

Writes peft/tiny_lora/{adapter_config.json, adapter_model.safetensors, expected.safetensors}; expected holds
`input_ids` (the golden tiny inputs) and `logits_bidirectional` / `logits_causal` of the adapted model.
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
from torch import nn  # noqa: E402
from qwen2_ref import Qwen2, load_config, save_safetensors  # noqa: E402

R, ALPHA = 4, 8
TARGETS = ["q_proj", "v_proj", "o_proj", "down_proj"]

torch.set_num_threads(1)
base_dir = os.path.join(os.path.abspath(args.out), "golden", "tiny")
out_dir = os.path.join(os.path.abspath(args.out), "peft", "tiny_lora")
os.makedirs(out_dir, exist_ok=True)

model = Qwen2(load_config(os.path.join(base_dir, "config.json"))).load(os.path.join(base_dir, "model.safetensors")).eval()


class LoraLinear(nn.Module):
    """PEFT's unmerged LoRA forward on one linear layer."""

    def __init__(self, base, a, b, scaling):
        super().__init__()
        self.base, self.a, self.b, self.scaling = base, a, b, scaling

    def forward(self, x):
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scaling


g = torch.Generator().manual_seed(1234)
tensors = {}
for path, module in list(model.named_modules()):
    for name in TARGETS:
        child = getattr(module, name, None)
        if not isinstance(child, nn.Linear):
            continue
        full = f"{path}.{name}"
        out_f, in_f = child.weight.shape
        bound = 1.0 / in_f ** 0.5                        # kaiming-uniform(a=sqrt(5)) bound, as PEFT initialises A
        a = (torch.rand(R, in_f, generator=g) * 2 - 1) * bound
        b = 0.05 * torch.randn(out_f, R, generator=g)    # non-zero (a trained adapter), so the adapter changes the logits
        tensors[f"base_model.model.{full}.lora_A.weight"] = a
        tensors[f"base_model.model.{full}.lora_B.weight"] = b
        setattr(module, name, LoraLinear(child, a, b, ALPHA / R))

save_safetensors(os.path.join(out_dir, "adapter_model.safetensors"), tensors, {"format": "pt"})

config = {  # PEFT 0.13 LoraConfig.to_dict() for these settings, keys sorted as save_pretrained writes them
    "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "golden/tiny", "bias": "none",
    "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
    "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": ALPHA, "lora_dropout": 0.05,
    "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None, "peft_type": "LORA", "r": R,
    "rank_pattern": {}, "revision": None, "target_modules": sorted(TARGETS), "task_type": "CAUSAL_LM",
    "use_dora": False, "use_rslora": False,
}
with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
    f.write("\n")

with open(os.path.join(base_dir, "inputs.json")) as f:
    ids = torch.tensor(json.load(f)["input_ids"])
with torch.no_grad():
    expected = {
        "input_ids": ids,
        "logits_bidirectional": model(ids, causal=False).float(),
        "logits_causal": model(ids, causal=True).float(),
    }
save_safetensors(os.path.join(out_dir, "expected.safetensors"), expected, {"producer": "make_peft_fixture.py"})
print(f"wrote {out_dir}: {len(tensors)} adapter tensors, logits {tuple(expected['logits_causal'].shape)}")
