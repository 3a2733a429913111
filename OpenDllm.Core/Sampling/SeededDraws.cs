using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// Devices and seeds, the one rule for every random draw of the toolkit (samplers, weight initialisation, forward
/// masking, time sampling, span masking): <b>the numbers are drawn on the CPU from a CPU generator seeded by the caller,
/// and only the result is moved to the device that needs it</b>. A seed therefore gives the same draws on every device.
/// <para>
/// Why: TorchSharp 0.107's <c>new Generator(seed, device)</c> always creates a CPU generator (native
/// <c>THSGenerator_new</c> ignores its device arguments; the managed object only records the device), and libtorch refuses
/// a CPU generator for a draw into CUDA memory ("Expected a 'cuda' device type for generator but found 'cpu'"). A CUDA
/// generator would also give other numbers than the CPU for the same seed.
/// </para>
/// <para>
/// Categorical draws over a vocabulary (<see cref="Categorical"/>) move no [N, V] noise: one uniform per row is drawn
/// on the CPU and the token is found by inverse CDF (cumsum + searchsorted) where the probabilities are, the same
/// computation on every device. What can still differ between devices is floating-point arithmetic, not randomness.
/// </para>
/// </summary>
public static class SeededDraws
{
    /// <summary>The CPU generator for <paramref name="seed"/> (the only kind every draw here accepts).</summary>
    public static Generator ForSeed(long seed) => new((ulong)seed);

    /// <summary>U[0, 1) of <paramref name="shape"/> drawn on the CPU in <paramref name="dtype"/>, then moved to
    /// <paramref name="device"/> (default: left on the CPU).</summary>
    public static Tensor Uniform(long[] shape, Generator generator, Device? device = null, ScalarType dtype = ScalarType.Float64)
    {
        RequireSeeded(generator);
        var u = rand(shape, dtype: dtype, generator: generator);
        if (device is null || device.type == DeviceType.CPU) return u;
        using (u) return u.to(device);
    }

    /// <summary>
    /// One token per row of <paramref name="weights"/> [N, V] (non-negative, need not sum to 1; any device), drawn with
    /// probability w_v / Σw by inverse CDF: with u ~ U[0, 1) per row (CPU) and C_v = Σ_{j ≤ v} w_j in float64, the
    /// token is the first v with C_v &gt; u·C_{V−1}. Zero-weight tokens are never drawn. Returns int64 [N] on the weights'
    /// device. The float64 CDF is built for at most <see cref="CdfChunkElements"/> entries at a time (the uniforms are
    /// drawn first, so chunking never changes the result).
    /// </summary>
    public static Tensor Categorical(Tensor weights, Generator generator) => CategoricalInChunks(weights, generator, CdfChunkElements);

    internal static Tensor CategoricalInChunks(Tensor weights, Generator generator, long chunkElements)
    {
        if (weights.dim() != 2) throw new ArgumentException($"expected weights [N, V], got [{string.Join(", ", weights.shape)}]", nameof(weights));
        using var scope = NewDisposeScope();
        long rows = weights.shape[0], vocab = weights.shape[1];
        var u = Uniform([rows, 1], generator, weights.device);                                       // [N, 1] float64
        if (rows == 0) return empty([0], dtype: ScalarType.Int64, device: weights.device).MoveToOuterDisposeScope();
        long chunk = Math.Max(1, chunkElements / Math.Max(1, vocab));
        var parts = new List<Tensor>();
        for (long start = 0; start < rows; start += chunk)
        {
            long n = Math.Min(chunk, rows - start);
            var cdf = weights.narrow(0, start, n).to(ScalarType.Float64).cumsum(1);                   // [n, V]
            var total = cdf.narrow(1, vocab - 1, 1);                                                // [n, 1]
            var target = (u.narrow(0, start, n) * total).minimum(total.nextafter(zeros_like(total))); // < total: a token with weight > 0
            parts.Add(searchsorted(cdf, target, right: true).squeeze(1));                           // [n]: first v with C_v > target
        }
        var token = parts.Count == 1 ? parts[0] : cat(parts, 0);
        // a held Scalar, not an implicit temporary: nothing would reference that one during the native call, and a GC on
        // another thread could free it mid-call ("Unknown scalar type", seen under load; dotnet/TorchSharp#1434)
        using var last = (vocab - 1).ToScalar();
        return token.clamp_max(last).MoveToOuterDisposeScope();
    }

    /// <summary>Largest float64 CDF block <see cref="Categorical"/> materialises at once (2²⁴ entries, 128 MiB).</summary>
    public const long CdfChunkElements = 1L << 24;

    /// <summary>Fills <paramref name="target"/> (any device, any float dtype) with N(mean, std²) drawn on the CPU in its dtype,
    /// so the values equal those of <c>target.normal_(mean, std, generator)</c> on a CPU tensor.</summary>
    public static void FillNormal(Tensor target, double mean, double std, Generator generator)
    {
        RequireSeeded(generator);
        using var noGrad = no_grad();
        using var cpu = empty(target.shape, dtype: target.dtype).normal_(mean, std, generator);
        target.copy_(cpu);
    }

    /// <summary>Every draw takes a seeded generator: none falls back to libtorch's global one.</summary>
    static void RequireSeeded(Generator generator) =>
        ArgumentNullException.ThrowIfNull(generator, nameof(generator));
}
