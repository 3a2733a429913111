using OpenDllm.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Bd3lm;

/// <summary>One candidate of <see cref="NoiseIntervalSearch"/>: the interval and the variance of its per-block loss terms.</summary>
public sealed record NoiseIntervalCandidate(double Beta, double Omega, double Variance, double Mean);

/// <summary>
/// The variance-minimising search over clipped noise intervals of bd3lms (SPEC §4.2, "clipped schedules"): for every
/// candidate [β, ω] with ω − β in <c>widths</c> and β on a grid of step <c>delta</c> (β ≥ 10⁻³, ω ≤ 1), measure the
/// variance over blocks of the per-block loss terms ℓ_blk = Σ_{masked i ∈ blk} w(t_blk)·CE_i / b on the same validation
/// batches (t per block from U(β, ω), antithetic), and return the candidates sorted by variance (the first is the one
/// bd3lms switches to). Every candidate sees the same batches and the same seed.
/// <para>
/// Not wired into training: the trainer does not switch intervals mid-run (that would need the method's state in the
/// checkpoint for an exact resume). Run it on a checkpoint and put the winner in <c>train.bd3lm.noise_interval</c>.
/// </para>
/// </summary>
public static class NoiseIntervalSearch
{
    /// <summary>bd3lms' default candidate widths, 0.5 … 0.9.</summary>
    public static readonly IReadOnlyList<double> DefaultWidths = [0.5, 0.6, 0.7, 0.8, 0.9];

    /// <summary>The candidate intervals: for each width w, β = max(10⁻³, k·δ) for k = 0, 1, … while β + w ≤ 1.</summary>
    public static IReadOnlyList<(double Beta, double Omega)> Candidates(IEnumerable<double> widths, double delta = 0.05)
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must be > 0");
        var list = new List<(double, double)>();
        foreach (var w in widths)
        {
            if (!(w > 0 && w < 1)) throw new ArgumentOutOfRangeException(nameof(widths), w, "each width must lie in (0, 1)");
            for (int k = 0; ; k++)
            {
                double beta = Math.Max(Bd3lmMethod.ValidationEpsilon, Math.Round(k * delta, 10));
                if (beta + w > 1 + 1e-12) break;
                list.Add((beta, Math.Min(1.0, beta + w)));
            }
        }
        return list;
    }

    /// <summary>Every candidate's variance and mean of ℓ_blk over <paramref name="batches"/>, smallest variance first.</summary>
    public static IReadOnlyList<NoiseIntervalCandidate> Run(Bd3lmMethod method, IReadOnlyList<PackedBatch> batches,
                                                            IEnumerable<(double Beta, double Omega)> candidates, long seed)
    {
        var model = method.Model;
        bool training = model.training;
        model.eval();
        using var noGrad = no_grad();
        var results = new List<NoiseIntervalCandidate>();
        try
        {
            foreach (var (beta, omega) in candidates)
            {
                using var scope = NewDisposeScope();
                using var generator = new Generator((ulong)seed);
                var sampler = new NoiseIntervalSampler(beta, omega, antithetic: true);
                var terms = cat(batches.Select(b => method.BlockTerms(b, sampler, generator).flatten()).ToArray());   // [Σ blocks]
                results.Add(new NoiseIntervalCandidate(beta, omega, terms.var().item<double>(), terms.mean().item<double>()));
            }
        }
        finally { if (training) model.train(); }
        return results.OrderBy(r => r.Variance).ToList();
    }
}
