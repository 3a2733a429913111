using OpenDllm.Sampling;
using OpenDllm.TimeSampling;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Bd3lm;

/// <summary>
/// Times on the clipped noise interval [β, ω] (SPEC §4.2, bd3lms <c>sampling_eps_min/max</c>):
/// <code>
/// antithetic:  t_j = β + (ω − β)·(U_j + j)/n   (draw j in stratum j of n, SPEC §1.5)
/// plain:       t_j = β + (ω − β)·U_j
/// </code>
/// with U_j ~ U[0, 1) from the seeded generator, computed in float64.
/// </summary>
public sealed class NoiseIntervalSampler : ITimestepSampler
{
    public NoiseIntervalSampler(double beta, double omega, bool antithetic)
    {
        if (!(beta >= 0 && beta < omega && omega <= 1))
            throw new ArgumentOutOfRangeException(nameof(beta), $"need 0 ≤ β < ω ≤ 1, got [{beta}, {omega}]");
        (Beta, Omega, Antithetic) = (beta, omega, antithetic);
    }

    /// <summary>β, the smallest time.</summary>
    public double Beta { get; }

    /// <summary>ω, the largest time.</summary>
    public double Omega { get; }

    /// <summary>True: one draw per stratum of [β, ω] (bd3lms); false: independent draws (dllm).</summary>
    public bool Antithetic { get; }

    public string Name => Antithetic ? "antithetic_interval" : "uniform_interval";

    /// <summary>n times [n] in [β, ω).</summary>
    public Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        using var scope = NewDisposeScope();
        var u = SeededDraws.Uniform([n], generator);                                          // [n] float64, CPU
        if (Antithetic) u = (u + arange(n, dtype: ScalarType.Float64)) / Math.Max(n, 1);    // [n], u_j ∈ [j/n, (j+1)/n)
        return (u * (Omega - Beta) + Beta).to(dtype).MoveToOuterDisposeScope();
    }
}
