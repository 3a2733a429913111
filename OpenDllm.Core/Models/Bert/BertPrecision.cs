using OpenDllm.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// The mixed-precision rules of the BERT modules (as <see cref="LanguageModel.ComputeDtype"/>): linear layers cast their
/// weights to the compute dtype at use (<see cref="ComputePrecision.Linear"/>), LayerNorm computes in float32 and casts its
/// result to the compute dtype. With no compute dtype every call is the module's own forward (unchanged numerics).
/// </summary>
internal static class BertPrecision
{
    /// <summary>LayerNorm(x) = (x − μ)/√(σ² + ε) ⊙ γ + β over the last dimension; in float32 under a compute dtype.</summary>
    public static Tensor Norm(LayerNorm norm, Tensor x, ScalarType? compute)
    {
        if (compute is not { } d) return norm.forward(x);
        var f = ScalarType.Float32;
        var y = nn.functional.layer_norm(ComputePrecision.Cast(x, f), [x.shape[^1]], ComputePrecision.Cast(norm.weight!, f),
                                         ComputePrecision.Cast(norm.bias!, f), norm.eps);
        return ComputePrecision.Cast(y, d);
    }

    /// <summary>Dropout with probability <paramref name="p"/>, only while <paramref name="training"/> (HF's nn.Dropout).</summary>
    public static Tensor Dropout(Tensor x, double p, bool training) =>
        training && p > 0 ? nn.functional.dropout(x, p, training: true) : x;
}
