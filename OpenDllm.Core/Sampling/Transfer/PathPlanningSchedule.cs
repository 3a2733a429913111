namespace OpenDllm.Sampling.Transfer;

/// <summary>
/// How many positions p2 re-masks at step i of <c>steps</c> (SPEC §5.2, Open-dLLM <c>generation_utils.py</c>):
/// <code>
/// κ_i = (i + 1) / steps,   n_remask = ⌊#free · (1 − κ_i)⌋,
/// </code>
/// #free = the row's non-fixed positions. The product is taken in float32 as upstream's
/// <c>(num_positions.float() * (1 - kappa_t)).long()</c> does: 1 − κ_i is a double rounded to float32, multiplied in float32,
/// then truncated. That differs from exact arithmetic where the product is an integer in real numbers but 1 − κ_i is not
/// representable: #free = 10, steps = 10, i = 8 gives 1 (float64 would give ⌊0.9999…⌋ = 0).
/// The last step (κ = 1) re-masks nothing.
/// </summary>
public static class PathPlanningSchedule
{
    /// <summary>n_remask = ⌊float32(#free) · float32(1 − (i+1)/steps)⌋.</summary>
    public static long RemaskCount(long free, int step, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "need at least one step");
        if (step < 0 || step >= steps) throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be in [0, {steps})");
        ArgumentOutOfRangeException.ThrowIfNegative(free);
        double kappa = (step + 1) / (double)steps;
        float keep = (float)(1.0 - kappa);
        float product = (float)free * keep;
        return (long)product;
    }

    /// <summary><see cref="RemaskCount(long, int, int)"/> for each row's #free.</summary>
    public static long[] RemaskCounts(long[] free, int step, int steps) => free.Select(n => RemaskCount(n, step, steps)).ToArray();
}
