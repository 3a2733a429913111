using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.TimeSampling;

/// <summary>
/// Plain sampling (SPEC §1.5; dllm, LLaDA p_mask): t = ε + (1 − ε)·U, U ~ U[0, 1), independently per draw, so
/// t ∈ [ε, 1). Default ε = 1e-3.
/// </summary>
public sealed class UniformTimestepSampler(double epsilon = UniformTimestepSampler.DefaultEpsilon) : ITimestepSampler
{
    public const double DefaultEpsilon = 1e-3;

    /// <summary>ε, the smallest time.</summary>
    public double Epsilon { get; } = epsilon is >= 0.0 and < 1.0
        ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must lie in [0, 1).");

    public string Name => "uniform";

    /// <summary>t_j = ε + (1 − ε)·U_j, shape [n].</summary>
    public Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        using var scope = NewDisposeScope();
        var u = SeededDraws.Uniform([n], generator);                                  // [n], CPU
        return (u * (1.0 - Epsilon) + Epsilon).to(dtype).MoveToOuterDisposeScope();
    }
}
