using static TorchSharp.torch;

namespace OpenDllm.Sampling.Transfer;

/// <summary>
/// Dream / Open-dCoder quota per step (SPEC §5.2, <c>maskgit_plus | topk_margin | entropy</c>): over the float32 grid
/// <c>t = linspace(1, ε, steps + 1)</c>, step i with (t, s) = (t_i, t_{i+1}) commits
/// <code>
/// k_i = ⌊n_i · (1 − s/t)⌋   (i &lt; steps − 1),   k_{steps−1} = n_i,
/// </code>
/// n_i = masks still left, all arithmetic in float32 as torch does it. With steps = n = 128 the first step commits
/// ⌊0.999⌋ = 0. Per row (Open-dLLM), not Dream's batch-average n (a known upstream bug, not replicated).
/// </summary>
public static class DreamTransferSchedule
{
    public const double DefaultEps = 1e-3;

    /// <summary>The time grid <c>torch.linspace(1, ε, steps + 1)</c> in float32 (computed by libtorch, bit-identical).</summary>
    public static float[] Timesteps(int steps, double eps = DefaultEps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "need at least one step");
        using var scope = NewDisposeScope();
        return linspace(1.0, eps, steps + 1, ScalarType.Float32).data<float>().ToArray();
    }

    /// <summary>
    /// Quotas for n masks over <paramref name="steps"/> steps; they sum to n. <paramref name="skipZeroSteps"/> drops the
    /// zero entries (each would cost a forward that commits nothing; dllm compacts its quotas the same way).
    /// </summary>
    public static int[] Quotas(int n, int steps, double eps = DefaultEps, bool skipZeroSteps = false) =>
        Quotas(n, Timesteps(steps, eps), skipZeroSteps);

    /// <summary>Quotas per row for per-row mask counts <paramref name="n"/> (one grid shared by all rows).</summary>
    public static int[][] Quotas(IReadOnlyList<int> n, int steps, double eps = DefaultEps, bool skipZeroSteps = false)
    {
        var ts = Timesteps(steps, eps);
        return n.Select(ni => Quotas(ni, ts, skipZeroSteps)).ToArray();
    }

    /// <summary>k = ⌊n·(1 − s/t)⌋ in float32, truncated like torch's <c>.long()</c>.</summary>
    public static int FloorQuota(int remaining, float t, float s)
    {
        float keepFraction = s / t;
        float unmaskFraction = 1f - keepFraction;
        float expected = remaining * unmaskFraction;
        return (int)expected;
    }

    private static int[] Quotas(int n, float[] ts, bool skipZeroSteps)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "mask count must be ≥ 0");
        int steps = ts.Length - 1;
        var quotas = new int[steps];
        int remaining = n;
        for (int i = 0; i < steps; i++)
        {
            int k = i < steps - 1 ? FloorQuota(remaining, ts[i], ts[i + 1]) : remaining;
            quotas[i] = Math.Clamp(k, 0, remaining);      // 1 − s/t ∈ (0, 1]: a no-op guard
            remaining -= quotas[i];
        }
        return skipZeroSteps ? quotas.Where(k => k > 0).ToArray() : quotas;
    }
}
