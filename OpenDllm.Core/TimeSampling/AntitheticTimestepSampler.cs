using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.TimeSampling;

/// <summary>
/// Antithetic / stratified sampling (SPEC §1.5; MDLM, bd3lms, Dream eval): the j-th of n draws lies in stratum
/// [j/n, (j+1)/n) before the affine map t = ε + (1 − ε)·u, so every stratum holds exactly one time.
/// <para>
/// The SPEC writes one shared u0 (t_j = (u0/n + j/n) mod 1); mdlm's <c>_sample_t</c> draws an independent u_j per
/// stratum. Both are supported: independent by default (mdlm), <c>sharedOffset: true</c> for the single-u0 form.
/// Draw j is in stratum j (no shuffle), as in mdlm; bd3lms stratifies over the B·num_blocks flattened blocks.
/// Times are computed in float64; casting to float32 can move a time lying within ~1e-7 of a stratum edge across it.
/// </para>
/// </summary>
public sealed class AntitheticTimestepSampler(double epsilon = UniformTimestepSampler.DefaultEpsilon, bool sharedOffset = false)
    : ITimestepSampler
{
    /// <summary>ε, the smallest time.</summary>
    public double Epsilon { get; } = epsilon is >= 0.0 and < 1.0
        ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must lie in [0, 1).");

    /// <summary>True: one u0 shared by all strata; false: one independent u_j per stratum.</summary>
    public bool SharedOffset { get; } = sharedOffset;

    public string Name => "antithetic";

    /// <summary>u_j = (U_j + j)/n ∈ [j/n, (j+1)/n), t_j = ε + (1 − ε)·u_j, shape [n].</summary>
    public Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        using var scope = NewDisposeScope();
        var u = SharedOffset
            ? SeededDraws.Uniform([1], generator).expand(n)                              // [n], one u0
            : SeededDraws.Uniform([n], generator);                                       // [n]
        var strata = (u + arange(n, dtype: ScalarType.Float64)) / Math.Max(n, 1);        // [n], u_j ∈ [j/n, (j+1)/n)
        return (strata * (1.0 - Epsilon) + Epsilon).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The stratum index ⌊n·u⌋ of a time t produced for a batch of n (inverse of the affine map).</summary>
    public long StratumOf(double t, long n) => Math.Min(n - 1, (long)Math.Floor((t - Epsilon) / (1.0 - Epsilon) * n));
}
