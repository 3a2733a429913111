using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// A module that can run its arithmetic in a lower <see cref="ComputeDtype"/> than its parameters are stored in
/// (mixed precision: float32 master weights, bfloat16 matmuls). Set it through <see cref="Models.LanguageModel.ComputeDtype"/>.
/// </summary>
public interface IComputeDtype
{
    /// <summary>The dtype weights are cast to where they are used; null = the parameters' own dtype (no casts).</summary>
    ScalarType? ComputeDtype { get; set; }
}

/// <summary>
/// Autocast-style casts (what PyTorch's <c>torch.autocast</c> does per op; TorchSharp 0.107 has no autocast): a weight
/// is cast to the compute dtype at the moment it is used, and the cast is an ordinary autograd op, so the gradient of the
/// low-precision copy flows back through it and is accumulated, cast up, in the float32 parameter's <c>.grad</c>.
/// The parameters themselves are never modified.
/// </summary>
public static class ComputePrecision
{
    /// <summary><paramref name="t"/> as <paramref name="dtype"/> (differentiable), or <paramref name="t"/> itself when
    /// <paramref name="dtype"/> is null or already its dtype.</summary>
    public static Tensor Cast(Tensor t, ScalarType? dtype) => dtype is { } d && t.dtype != d ? t.to(d) : t;

    /// <summary>
    /// <c>x·Wᵀ + b</c> of <paramref name="layer"/> with x, W and b in <paramref name="dtype"/>; the layer's own forward
    /// (unchanged numerics) when <paramref name="dtype"/> is null.
    /// </summary>
    public static Tensor Linear(Linear layer, Tensor x, ScalarType? dtype) =>
        dtype is null ? layer.forward(x)
            : nn.functional.linear(Cast(x, dtype), Cast(layer.weight!, dtype), layer.bias is { } b ? Cast(b, dtype) : null);

    /// <summary>Throws unless <paramref name="dtype"/> is null or a floating-point dtype.</summary>
    public static ScalarType? Check(ScalarType? dtype) =>
        dtype is null or ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64 ? dtype
            : throw new ArgumentException($"compute dtype {dtype} is not a floating-point dtype", nameof(dtype));
}
