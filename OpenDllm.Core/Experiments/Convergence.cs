namespace OpenDllm.Experiments;

/// <summary>One evaluation of a run: the optimizer step and the validation bound there (bits per token).</summary>
public readonly record struct BoundPoint(long Step, double Bits);

/// <summary>
/// Convergence speed read off validation curves: the steps a run needs to reach a bound τ, and how many times fewer
/// steps than a baseline that is. This is how "k× faster convergence" claims (Open-dLLM's AR → diffusion adaptation,
/// SPEC §3) are stated: equal steps and batch, the same validation bound, one threshold.
/// </summary>
public static class Convergence
{
    /// <summary>
    /// The (fractional) step at which the curve first reaches τ: the first evaluation k with b_k ≤ τ, linearly
    /// interpolated from the evaluation before it, s* = s_{k−1} + (b_{k−1} − τ)/(b_{k−1} − b_k)·(s_k − s_{k−1}); s_0 when
    /// the first evaluation is already at or below τ; null when no evaluation reaches τ. Points are taken in step order.
    /// </summary>
    public static double? StepsToReach(IReadOnlyList<BoundPoint> curve, double threshold)
    {
        if (!double.IsFinite(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold must be finite");
        var points = curve.Where(p => double.IsFinite(p.Bits)).OrderBy(p => p.Step).ToList();
        for (int k = 0; k < points.Count; k++)
        {
            if (points[k].Bits > threshold) continue;
            if (k == 0) return points[0].Step;
            var (a, b) = (points[k - 1], points[k]);
            return a.Step + (a.Bits - threshold) / (a.Bits - b.Bits) * (b.Step - a.Step);
        }
        return null;
    }

    /// <summary>
    /// Speed-up of a run over the baseline at τ: steps_baseline(τ) / steps_run(τ). Null when either never reaches τ (the
    /// ratio is then unknown, not infinite) or when the run reaches it at step 0 (already there before training).
    /// </summary>
    public static double? SpeedUp(double? baselineSteps, double? runSteps) =>
        baselineSteps is { } b && runSteps is { } r && r > 0 ? b / r : null;
}
