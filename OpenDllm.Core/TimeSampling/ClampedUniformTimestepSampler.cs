using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.TimeSampling;

/// <summary>
/// Open-dLLM's sampling (SPEC §1.5, §2.2): t ~ U[0, 1) clamped to [min, max] = [1/500, 1 − 1/500] by default, so
/// the two ends carry point masses of 1/500 each (unlike the affine map of <see cref="UniformTimestepSampler"/>).
/// </summary>
public sealed class ClampedUniformTimestepSampler : ITimestepSampler
{
    /// <summary>The Open-dLLM collator's bounds, [1/500, 1 − 1/500].</summary>
    public static readonly ClampedUniformTimestepSampler OpenDllm = new(1.0 / 500, 1.0 - 1.0 / 500);

    public ClampedUniformTimestepSampler(double min, double max)
    {
        if (!(min >= 0.0 && min <= max && max <= 1.0))
            throw new ArgumentOutOfRangeException(nameof(min), $"need 0 ≤ min ≤ max ≤ 1, got [{min}, {max}].");
        Min = min; Max = max;
    }

    public double Min { get; }
    public double Max { get; }

    public string Name => "clamped_uniform";

    /// <summary>t_j = clamp(U_j, min, max), shape [n].</summary>
    public Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        using var scope = NewDisposeScope();
        var u = SeededDraws.Uniform([n], generator);                                  // [n], CPU
        return u.clamp(Min, Max).to(dtype).MoveToOuterDisposeScope();
    }
}
