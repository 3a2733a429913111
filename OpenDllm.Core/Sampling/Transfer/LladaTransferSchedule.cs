namespace OpenDllm.Sampling.Transfer;

/// <summary>
/// LLaDA's <c>get_num_transfer_tokens</c> (SPEC §5.3): n masks spread evenly over the steps of a block, the remainder
/// on the first steps: <c>[⌊n/steps⌋ + 1] × (n mod steps) ++ [⌊n/steps⌋] × rest</c>. n = 10, steps = 4 → [3, 3, 2, 2].
/// Exact per row (unlike Dream's floor rule).
/// </summary>
public static class LladaTransferSchedule
{
    /// <summary>The quotas for n masks; they sum to n, and zero entries appear only when n &lt; steps.</summary>
    public static int[] Quotas(int n, int steps)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "mask count must be ≥ 0");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "need at least one step");
        int baseQuota = n / steps, remainder = n % steps;
        return Enumerable.Range(0, steps).Select(i => baseQuota + (i < remainder ? 1 : 0)).ToArray();
    }

    /// <summary>Quotas per row for per-row mask counts.</summary>
    public static int[][] Quotas(IReadOnlyList<int> n, int steps) => n.Select(ni => Quotas(ni, steps)).ToArray();
}
