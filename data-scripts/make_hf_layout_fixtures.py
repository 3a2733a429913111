"""Makes tests/OpenDllm.Tests/Fixtures/hf_layouts: small Qwen2 model folders whose config.json is laid out exactly as
transformers 5.x or 4.x writes it with save_pretrained, plus reference logits from ../shared/reference/qwen2_ref.py.

Usage (Debian's torch: `apt-get install python3-torch`, then run with the system interpreter from the repo root):
    /usr/bin/python3 data-scripts/make_hf_layout_fixtures.py [--shared ../shared] [--out tests/OpenDllm.Tests/Fixtures]

Each case folder holds what ../shared/reference/hf_golden.py writes for a transformers-saved model, so the same C# test
runs both: config.json, model.safetensors, inputs.json ({"input_ids": [[...], ...]}) and golden.safetensors
(logits_causal and logits_bidirectional, F32 [batch, seq, vocab], bidirectional = no mask at all).

  v5_tied_gqa     transformers 5.0 layout (rope_parameters {rope_theta, rope_type}, dtype, layer_types, null token ids),
                  tied embeddings (no lm_head.weight in the file), 4 heads / 2 kv heads, rope_theta 500000, fp32
  v4_untied_gqa   transformers 4.51 layout (top-level rope_theta, rope_scaling null, torch_dtype, no layer_types),
                  untied head, 6 heads / 2 kv heads, rope_theta 1e6, fp32
  v5_bf16_mha     transformers 5.0 layout, weights stored as bf16 (dtype "bfloat16"), untied, 4 heads = 4 kv heads,
                  rope_theta 250000, rms_norm_eps 1e-5; the logits are those of the fp32 model holding the bf16 values,
                  as from_pretrained(torch_dtype=float32) computes them

Every rope_theta differs from 10000, so a loader that misses rope_parameters and falls back to the default is caught.
The config.json key sets and order follow transformers' PreTrainedConfig.to_json_string (sorted keys, indent 2, the
diff against the base config): for 5.x as a transformers 5.0.0 Qwen2Config prints itself, for 4.x as Qwen2Config of
4.4x-4.52 (before layer_types). The weights are random (qwen2_ref.init_random), single-threaded, deterministic.
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
from qwen2_ref import Qwen2, init_random, save_safetensors  # noqa: E402

torch.set_num_threads(1)

CASES = {  # name: (layout, model config, batch, length, stored dtype, seed)
    "v5_tied_gqa": ("5.x", dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                                rope_theta=500000.0, rms_norm_eps=1e-6), 2, 11, torch.float32, 11),
    "v4_untied_gqa": ("4.x", dict(vocab_size=64, hidden_size=36, intermediate_size=72, num_hidden_layers=2,
                                  num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=False,
                                  rope_theta=1000000.0, rms_norm_eps=1e-6), 3, 9, torch.float32, 12),
    "v5_bf16_mha": ("5.x", dict(vocab_size=72, hidden_size=32, intermediate_size=80, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False,
                                rope_theta=250000.0, rms_norm_eps=1e-5), 2, 10, torch.bfloat16, 13),
}
MAX_POSITIONS = 256


def config_v5(cfg, dtype):
    """Qwen2Config(**cfg, max_position_embeddings=256) saved by transformers 5.0.0."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": None,
        "dtype": dtype,
        "eos_token_id": None,
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "layer_types": ["full_attention"] * cfg["num_hidden_layers"],
        "max_position_embeddings": MAX_POSITIONS,
        "max_window_layers": 28,
        "model_type": "qwen2",
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "pad_token_id": None,
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_parameters": {"rope_theta": cfg["rope_theta"], "rope_type": "default"},
        "sliding_window": None,
        "tie_word_embeddings": cfg["tie_word_embeddings"],
        "transformers_version": "5.0.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": cfg["vocab_size"],
    }


def config_v4(cfg, dtype):
    """Qwen2Config(**cfg, max_position_embeddings=256) saved by transformers 4.51."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": MAX_POSITIONS,
        "max_window_layers": 28,
        "model_type": "qwen2",
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_scaling": None,
        "rope_theta": cfg["rope_theta"],
        "sliding_window": None,
        "tie_word_embeddings": cfg["tie_word_embeddings"],
        "torch_dtype": dtype,
        "transformers_version": "4.51.3",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": cfg["vocab_size"],
    }


root = os.path.join(os.path.abspath(args.out), "hf_layouts")
for name, (layout, cfg, B, L, stored, seed) in CASES.items():
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    model = init_random(Qwen2(cfg), seed=seed, std=0.1).eval()
    dtype_name = str(stored).replace("torch.", "")
    if stored != torch.float32:   # the fp32 model a user gets back holds the stored values exactly
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(stored).float())
    tensors = {k: v.to(stored) for k, v in model.hf_state_dict().items()}
    save_safetensors(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"})
    config = (config_v5 if layout == "5.x" else config_v4)(cfg, dtype_name)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg["vocab_size"], (B, L), generator=g)
    with torch.no_grad():
        causal = model(ids, causal=True).float().contiguous()
        bidirectional = model(ids, causal=False).float().contiguous()
    save_safetensors(os.path.join(d, "golden.safetensors"),
                     {"logits_causal": causal, "logits_bidirectional": bidirectional})
    with open(os.path.join(d, "inputs.json"), "w") as f:
        json.dump({"input_ids": ids.tolist()}, f)
    print(f"{name}: {layout} layout, stored {dtype_name}, ids [{B}, {L}], "
          f"max |causal - bidirectional| = {(causal - bidirectional).abs().max().item():.3f}")
