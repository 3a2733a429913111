"""Writes all_dtypes.safetensors with PyTorch's reference writer (shared/reference/qwen2_ref.py), plus
all_dtypes.expected.json holding, per tensor, its dtype, shape, raw little-endian bytes (hex) and values.

Run once with Debian's python3-torch:  /usr/bin/python3 generate.py [path/to/shared/reference]
The outputs are committed; the C# tests check that the reader returns exactly these values."""
import json
import math
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
reference = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "..", "shared", "reference")
sys.path.insert(0, os.path.abspath(reference))
from qwen2_ref import save_safetensors  # noqa: E402

g = torch.Generator().manual_seed(20240607)
specials = torch.tensor([0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"), 1e-40, 65504.0, 3.0e38])
tensors = {
    "f64": torch.randn(2, 3, generator=g, dtype=torch.float64),
    "f64_scalar": torch.tensor(math.pi, dtype=torch.float64),
    "f32": torch.randn(3, 4, generator=g),
    "f32_special": specials.clone(),
    "f16": torch.randn(5, generator=g).to(torch.float16),
    "f16_special": specials[:9].to(torch.float16),
    "bf16": torch.randn(2, 2, 2, generator=g).to(torch.bfloat16),
    "bf16_special": specials.to(torch.bfloat16),
    "i64": torch.tensor([[-(2**62), 2**62 + 12345], [-1, 0]], dtype=torch.int64),
    "i32": torch.tensor([-(2**31), 2**31 - 1, 7], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767, -1, 2], dtype=torch.int16),
    "i8": torch.tensor([[-128, 127], [0, -5]], dtype=torch.int8),
    "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
    "u8_scalar": torch.tensor(200, dtype=torch.uint8),
    "bool": torch.tensor([True, False, True, True]),
    "f32_empty": torch.zeros(0, 3),
    "i64_empty": torch.zeros(2, 0, dtype=torch.int64),
}
metadata = {"format": "pt", "producer": "generate.py", "torch": torch.__version__}
save_safetensors(os.path.join(here, "all_dtypes.safetensors"), tensors, metadata)


def value(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


expected = {"metadata": metadata, "tensors": {}}
for name, t in tensors.items():
    raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).contiguous().numpy().tobytes()
    flat = t.reshape(-1).to(torch.float64 if t.is_floating_point() else t.dtype).tolist()
    expected["tensors"][name] = {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "hex": raw.hex(),
        "values": [value(v) for v in flat],
    }
with open(os.path.join(here, "all_dtypes.expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
