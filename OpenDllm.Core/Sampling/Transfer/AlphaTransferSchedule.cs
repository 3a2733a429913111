using OpenDllm.Schedules;

namespace OpenDllm.Sampling.Transfer;

/// <summary>
/// dllm's α-scheduled quota (SPEC §5.3, dllm <c>get_num_transfer_tokens</c>): on the grid t_j = (steps − j)/steps,
/// s_j = (steps − j − 1)/steps, step j commits
/// <code>
/// k_j = round(n_j · (1 − (1 − α(s_j)) / (1 − α(t_j))))     banker's rounding (torch.round), clamped to n_j,
/// </code>
/// n_j = masks still left (float64). Zero entries are removed, so no step is empty. Linear, n = 10, steps = 4 → [2, 3, 2, 3].
/// Deviation: the last step takes every remaining mask even when α(0) &lt; 1, so the quotas always sum to n
/// (dllm leaves such masks; for schedules with α(0) = 1 the two agree).
/// </summary>
public static class AlphaTransferSchedule
{
    /// <summary>The non-zero quotas for n masks under <paramref name="schedule"/>; they sum to n.</summary>
    public static int[] Quotas(int n, int steps, IMaskSchedule schedule)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "mask count must be ≥ 0");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "need at least one step");
        var quotas = new List<int>(steps);
        int remaining = n;
        for (int j = 0; j < steps && remaining > 0; j++)
        {
            int k = j == steps - 1 ? remaining : RoundedQuota(remaining, (double)(steps - j - 1) / steps, (double)(steps - j) / steps, schedule);
            if (k > 0) quotas.Add(k);
            remaining -= k;
        }
        return quotas.ToArray();
    }

    /// <summary>Quotas per row for per-row mask counts (rows may differ in length).</summary>
    public static int[][] Quotas(IReadOnlyList<int> n, int steps, IMaskSchedule schedule) =>
        n.Select(ni => Quotas(ni, steps, schedule)).ToArray();

    /// <summary>k = round(n·(1 − P(stay masked | s, t))), P(stay masked) = (1 − α(s))/(1 − α(t)) (SPEC §1.1), ties to even, in [0, n].</summary>
    public static int RoundedQuota(int remaining, double s, double t, IMaskSchedule schedule)
    {
        double stayMasked = (1 - schedule.Alpha(s)) / (1 - schedule.Alpha(t));
        double expected = remaining * (1 - stayMasked);
        return (int)Math.Clamp(Math.Round(expected, MidpointRounding.ToEven), 0, remaining);
    }
}
