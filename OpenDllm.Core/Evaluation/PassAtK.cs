namespace OpenDllm.Evaluation;

/// <summary>
/// The unbiased pass@k estimator (SPEC §7.1; Chen et al. 2021, <see href="https://arxiv.org/abs/2107.03374"/>):
/// per problem with n samples of which c pass, pass@k = 1 − C(n−c, k) / C(n, k), computed in the stable product form
/// 1 − Π_{i=n−c+1}^{n} (1 − k/i), and 1 when n − c &lt; k. A benchmark's pass@k is the mean over problems, reported
/// only when every problem has n ≥ k.
/// </summary>
public static class PassAtK
{
    /// <summary>pass@k of one problem with <paramref name="n"/> samples, <paramref name="c"/> correct.</summary>
    public static double Estimate(int n, int c, int k)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "need at least one sample");
        if (c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), c, $"must be in [0, n={n}]");
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"must be in [1, n={n}]");
        if (n - c < k) return 1.0;
        double failAll = 1.0;                       // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i)
        for (int i = n - c + 1; i <= n; i++) failAll *= 1.0 - (double)k / i;
        return 1.0 - failAll;
    }

    /// <summary>
    /// Mean pass@k over problems given as (n, c) pairs; null when some problem has fewer than k samples
    /// (or there are no problems), so that an unsupported k is never reported.
    /// </summary>
    public static double? Mean(IEnumerable<(int N, int C)> problems, int k)
    {
        double sum = 0;
        int count = 0;
        foreach (var (n, c) in problems)
        {
            if (n < k) return null;
            sum += Estimate(n, c, k);
            count++;
        }
        return count == 0 ? null : sum / count;
    }
}
