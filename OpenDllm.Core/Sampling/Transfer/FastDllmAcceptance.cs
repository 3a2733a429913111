using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Sampling.Transfer;

/// <summary>
/// Fast-dLLM confidence-aware parallel decoding (SPEC §5.4; Wu et al., "Fast-dLLM", <see href="https://arxiv.org/abs/2505.22618"/>):
/// which of a block's candidate (masked) positions to commit this step, given each one's confidence. Candidates are the
/// entries with confidence &gt; −∞ (−∞ marks non-candidates, as in the samplers; NaN is never a candidate). With sorted
/// confidences c(1) ≥ c(2) ≥ …, rank 1 is always accepted when there is any candidate.
/// <list type="bullet">
/// <item>Threshold rule (<c>get_transfer_index</c>): accept rank r iff r = 1 or c(r) ≥ τ (default 0.9).</item>
/// <item>Factor rule (<c>get_transfer_index_dynamic</c>): accept the longest prefix of ranks with c(r) ≥ 1 − f/(r + 1),
/// i.e. (r + 1)(1 − c(r)) ≤ f. f = 1: r = 2 needs 0.667, r = 3 0.75, r = 4 0.8. Upstream quirk <i>not</i> replicated:
/// upstream accepts every candidate when the first failing rank is the last one; here that rank is rejected.</item>
/// </list>
/// Ties between equal confidences are broken by position (lower index first).
/// </summary>
public static class FastDllmAcceptance
{
    public const double DefaultThreshold = 0.9;

    /// <summary>The factor rule's bar at rank r (1-based): 1 − f/(r + 1); rank 1 has none (−∞).</summary>
    public static double FactorThreshold(int rank, double factor) =>
        rank <= 1 ? double.NegativeInfinity : 1.0 - factor / (rank + 1);

    /// <summary>Threshold rule on one confidence vector: the accepted indices, most confident first.</summary>
    public static int[] Threshold(ReadOnlySpan<double> confidence, double tau = DefaultThreshold) =>
        AcceptPrefix(confidence, rank => rank <= 1 ? double.NegativeInfinity : tau);

    /// <summary>Factor rule on one confidence vector: the accepted indices, most confident first.</summary>
    public static int[] Factor(ReadOnlySpan<double> confidence, double factor) =>
        AcceptPrefix(confidence, rank => FactorThreshold(rank, factor));

    /// <summary>Threshold rule per row: confidence [B, T] (−∞ = not a candidate) → accepted [B, T] bool.</summary>
    public static Tensor ThresholdMask(Tensor confidence, double tau = DefaultThreshold) =>
        AcceptMask(confidence, rank => rank <= 1 ? double.NegativeInfinity : tau);

    /// <summary>Factor rule per row: confidence [B, T] (−∞ = not a candidate) → accepted [B, T] bool.</summary>
    public static Tensor FactorMask(Tensor confidence, double factor) =>
        AcceptMask(confidence, rank => FactorThreshold(rank, factor));

    private static int[] AcceptPrefix(ReadOnlySpan<double> confidence, Func<int, double> bar)
    {
        // 1. candidates sorted by confidence, descending (stable: ties by index)
        var order = new List<int>();
        for (int i = 0; i < confidence.Length; i++) if (confidence[i] > double.NegativeInfinity) order.Add(i);
        var c = confidence.ToArray();
        order.Sort((a, b) => c[b].CompareTo(c[a]) is var cmp && cmp != 0 ? cmp : a.CompareTo(b));

        // 2. the longest prefix whose rank-r entry clears its bar
        int accepted = 0;
        while (accepted < order.Count && c[order[accepted]] >= bar(accepted + 1)) accepted++;
        return order.Take(accepted).ToArray();
    }

    private static Tensor AcceptMask(Tensor confidence, Func<int, double> bar)
    {
        if (confidence.dim() != 2) throw new ArgumentException($"confidence must be [B, T], got [{string.Join(", ", confidence.shape)}]", nameof(confidence));
        using var scope = NewDisposeScope();
        long width = confidence.shape[1];
        var c64 = confidence.to(ScalarType.Float64);                                                // [B, T]
        c64 = c64.masked_fill(c64.isnan(), ScalarOps.NegativeInfinity);                                 // NaN: never a candidate

        // 1. sort each row, descending (stable: ties by index)                               [B, T]
        var (sorted, order) = c64.sort(1, descending: true, stable: true);

        // 2. the bar of each rank, and which sorted entries clear it                         [T], [B, T]
        var bars = tensor(Enumerable.Range(1, (int)width).Select(bar).ToArray(), device: confidence.device);
        var clears = sorted.ge(bars) & sorted.gt(double.NegativeInfinity);

        // 3. longest prefix: cumulative product of the pass flags                             [B, T]
        var prefix = clears.to(ScalarType.Int64).cumprod(1).to(ScalarType.Bool);

        // 4. back to the original positions                                                  [B, T] bool
        return zeros_like(prefix).scatter(1, order, prefix).MoveToOuterDisposeScope();
    }
}
