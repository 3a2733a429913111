using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// Rotary position embedding in the rotate-half convention of Hugging Face Qwen2 (Su et al., RoFormer,
/// <see href="https://arxiv.org/abs/2104.09864"/>): with <c>inv_freq[j] = θ^(−2j/d)</c>, angles
/// <c>φ = pos · inv_freq</c> and <c>emb = [φ, φ]</c>, a head vector x = [x₁ | x₂] becomes
/// <c>x·cos(emb) + [−x₂ | x₁]·sin(emb)</c>. Dimension j pairs with j + d/2 (not interleaved). cos/sin in float32.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin of shape [B, L, d] (or [L, d] for 1-D positions), float32.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, int headDim, double theta)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, dtype: ScalarType.Int64, device: positions.device).to(ScalarType.Float32).DivScalar(headDim);
        var invFreq = pow(theta, exponents).reciprocal();                                // [d/2]
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;             // [..., L, d/2]
        var emb = cat([freqs, freqs], -1);                                                // [..., L, d]
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>cos/sin [B, L, d] or [L, d] → [B|1, 1, L, d] in <paramref name="dtype"/>, ready to broadcast over heads.</summary>
    public static (Tensor Cos, Tensor Sin) ForHeads(Tensor cos, Tensor sin, ScalarType dtype)
    {
        if (cos.dim() == 2) { cos = cos.unsqueeze(0); sin = sin.unsqueeze(0); }
        return (cos.unsqueeze(1).to(dtype), sin.unsqueeze(1).to(dtype));
    }

    /// <summary>Applies the rotation to x [B, H, L, d] with cos/sin [B, L, d], [L, d] or already [B|1, 1, L, d].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (cos.dim() < 4) (cos, sin) = ForHeads(cos, sin, x.dtype);
        return (x * cos).AddScaled(RotateHalf(x) * sin);                     // ScalarOps: the sum's alpha Scalar kept
    }

    /// <summary>[x₁ | x₂] → [−x₂ | x₁] on the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([x2.neg(), x1], -1);
    }
}
