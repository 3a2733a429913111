using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.TimeSampling;

/// <summary>
/// Adaptive timestep sampling of LDLM (SPEC §6.5, CDCD-style): K equal bins over u ∈ [0, 1] (u is the time t), an EMA
/// of the per-bin diffusion loss L̄_b ← β·L̄_b + (1 − β)·L_batch,b, and a piecewise-constant density ∝ dL/du:
/// w_b = max(L̄_{b+1} − L̄_b, ε), p_b = w_b / Σw, density(u) = K·p_b on bin b. Sampling draws a bin from p, then u
/// uniformly inside it. Until every bin has an EMA (warm start) the density is uniform.
/// <para>
/// Choices where SPEC §6.5 is silent: the last bin has no L̄_{K}, so it reuses the backward difference
/// w_{K−1} = max(L̄_{K−1} − L̄_{K−2}, ε) (the slope is extended to u = 1); a bin's first batch mean initialises its
/// EMA (no bias towards 0); ε is in loss units. Not thread-safe.
/// </para>
/// </summary>
public sealed class AdaptiveTimestepSampler : ITimestepSampler
{
    private readonly double?[] _ema;

    /// <param name="bins">K, the number of equal bins over [0, 1].</param>
    /// <param name="emaRate">β ∈ [0, 1): weight of the old EMA.</param>
    /// <param name="floor">ε &gt; 0: the least bin weight, so every bin keeps being visited.</param>
    public AdaptiveTimestepSampler(int bins = 100, double emaRate = 0.99, double floor = 1e-3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (!(emaRate is >= 0.0 and < 1.0)) throw new ArgumentOutOfRangeException(nameof(emaRate), emaRate, "β must lie in [0, 1).");
        if (!(floor > 0.0 && double.IsFinite(floor))) throw new ArgumentOutOfRangeException(nameof(floor), floor, "ε must be finite and > 0.");
        Bins = bins; EmaRate = emaRate; Floor = floor;
        _ema = new double?[bins];
    }

    public int Bins { get; }
    public double EmaRate { get; }
    public double Floor { get; }

    /// <summary>Number of <see cref="Update(double[], double[])"/> calls so far.</summary>
    public long Updates { get; private set; }

    /// <summary>L̄_b per bin; null until the bin has seen a loss.</summary>
    public IReadOnlyList<double?> Ema => _ema;

    /// <summary>True once every bin has an EMA; before that the density is uniform.</summary>
    public bool IsWarm => Array.TrueForAll(_ema, e => e.HasValue);

    public string Name => "adaptive";

    /// <summary>The bin b = min(⌊K·u⌋, K − 1) of u ∈ [0, 1].</summary>
    public int BinOf(double u) =>
        u is >= 0.0 and <= 1.0 ? Math.Min(Bins - 1, (int)(u * Bins)) : throw new ArgumentOutOfRangeException(nameof(u), u, "u must lie in [0, 1].");

    /// <summary>Folds one batch in: per bin, L̄_b ← β·L̄_b + (1 − β)·mean(losses of the batch's times in bin b).</summary>
    /// <param name="t">times [n] in [0, 1].</param>
    /// <param name="loss">per-sample diffusion losses [n] (finite).</param>
    public void Update(double[] t, double[] loss)
    {
        if (t.Length != loss.Length) throw new ArgumentException($"t has {t.Length} entries but loss has {loss.Length}.", nameof(loss));
        var sum = new double[Bins];
        var count = new int[Bins];
        for (int i = 0; i < t.Length; i++)
        {
            if (!double.IsFinite(loss[i])) throw new ArgumentException($"loss[{i}] = {loss[i]} is not finite.", nameof(loss));
            int b = BinOf(t[i]);
            sum[b] += loss[i]; count[b]++;
        }
        for (int b = 0; b < Bins; b++)
        {
            if (count[b] == 0) continue;
            double mean = sum[b] / count[b];
            _ema[b] = _ema[b] is double old ? EmaRate * old + (1.0 - EmaRate) * mean : mean;
        }
        Updates++;
    }

    /// <summary>Tensor overload: t [n] and loss [n] (any float dtype, any device).</summary>
    public void Update(Tensor t, Tensor loss) => Update(ToDoubles(t), ToDoubles(loss));

    /// <summary>p_b = w_b / Σw with w_b = max(L̄_{b+1} − L̄_b, ε) (last bin: backward difference); uniform while warming up.</summary>
    public double[] BinProbabilities()
    {
        var p = new double[Bins];
        if (!IsWarm || Bins == 1) { Array.Fill(p, 1.0 / Bins); return p; }
        for (int b = 0; b < Bins; b++)
        {
            int lo = b < Bins - 1 ? b : b - 1;
            p[b] = Math.Max(_ema[lo + 1]!.Value - _ema[lo]!.Value, Floor);
        }
        double total = p.Sum();
        for (int b = 0; b < Bins; b++) p[b] /= total;
        return p;
    }

    /// <summary>density(u) = K·p_b for u in bin b, so ∫₀¹ density(u) du = 1.</summary>
    public double Density(double u) => Bins * BinProbabilities()[BinOf(u)];

    /// <summary>n times [n]: bins b_j ~ Categorical(p), then u_j = (b_j + U_j)/K.</summary>
    public Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        using var scope = NewDisposeScope();
        if (n == 0) return empty([0], dtype: dtype).MoveToOuterDisposeScope();
        var p = tensor(BinProbabilities(), dtype: ScalarType.Float64);                       // [K]
        var bins = multinomial(p, n, replacement: true, generator: generator);               // [n] int64, on the CPU
        var u = SeededDraws.Uniform([n], generator);                                         // [n]
        var t = (bins.to(ScalarType.Float64) + u) / Bins;                                     // [n], inside bin b_j
        return t.clamp_max(1.0).to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>A snapshot of the knobs and the EMA, for checkpoints (round-trips through System.Text.Json).</summary>
    public AdaptiveTimestepSamplerState SaveState() => new(Bins, EmaRate, Floor, (double?[])_ema.Clone(), Updates);

    /// <summary>A sampler in exactly the saved state.</summary>
    public static AdaptiveTimestepSampler FromState(AdaptiveTimestepSamplerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var sampler = new AdaptiveTimestepSampler(state.Bins, state.EmaRate, state.Floor);
        if (state.Ema is null || state.Ema.Length != state.Bins)
            throw new ArgumentException($"state has {state.Ema?.Length ?? 0} EMA entries for {state.Bins} bins.", nameof(state));
        Array.Copy(state.Ema, sampler._ema, state.Bins);
        sampler.Updates = state.Updates;
        return sampler;
    }

    private static double[] ToDoubles(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.detach().to(ScalarType.Float64).cpu().contiguous().flatten().data<double>().ToArray();
    }
}

/// <summary>Serializable state of an <see cref="AdaptiveTimestepSampler"/>; Ema[b] is null until bin b saw a loss.</summary>
public sealed record AdaptiveTimestepSamplerState(int Bins, double EmaRate, double Floor, double?[] Ema, long Updates);
