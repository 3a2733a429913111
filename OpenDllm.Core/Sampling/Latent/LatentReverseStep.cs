using OpenDllm.Schedules;

namespace OpenDllm.Sampling.Latent;

/// <summary>
/// One reverse step z_t → z_s (s &lt; t) of the tan-d VP schedule (SPEC §6.4) with an x0-predicting denoiser (SPEC §6.3),
/// written as z_s = <see cref="Noisy"/>·z_t + <see cref="Clean"/>·ẑ₀ + <see cref="NoiseStd"/>·ξ with ξ ~ N(0, I).
/// Every coefficient is a scalar because all rows of a batch share the time.
/// </summary>
/// <param name="Noisy">the weight of z_t.</param>
/// <param name="Clean">the weight of ẑ₀.</param>
/// <param name="NoiseStd">the standard deviation of the fresh noise (0 for DDIM).</param>
public readonly record struct LatentReverseStep(double Noisy, double Clean, double NoiseStd)
{
    /// <summary>
    /// DDIM with η = 0. The x0-parameterisation implies the noise estimate ε̂ = (z_t − α_t·ẑ₀)/σ_t, and DDIM re-noises ẑ₀
    /// to time s with that same ε̂: z_s = α_s·ẑ₀ + σ_s·ε̂ = (σ_s/σ_t)·z_t + (α_s − σ_s·α_t/σ_t)·ẑ₀. At s = 0 (α = 1, σ = 0)
    /// this is ẑ₀.
    /// </summary>
    public static LatentReverseStep Ddim(TanDSchedule schedule, double t, double s)
    {
        var (at, st, @as, ss) = Check(schedule, t, s);
        return new(ss / st, @as - ss * at / st, 0.0);
    }

    /// <summary>
    /// DDPM ancestral step: a draw from the Gaussian posterior q(z_s | z_t, z₀ = ẑ₀) of the VP forward process.
    /// <para>
    /// Forward transition: z_t = α_{t|s}·z_s + σ_{t|s}·ε with α_{t|s} = α_t/α_s and σ²_{t|s} = σ_t² − α²_{t|s}·σ_s² (so
    /// that z_t keeps the marginal α_t·z₀ + σ_t·ε). With the prior z_s | z₀ ~ N(α_s·z₀, σ_s²) Bayes' rule multiplies two
    /// Gaussians in z_s. Precision: 1/σ_s² + α²_{t|s}/σ²_{t|s} = (σ²_{t|s} + α²_{t|s}σ_s²)/(σ_s²σ²_{t|s}) = σ_t²/(σ_s²σ²_{t|s}),
    /// hence the variance σ̃² = σ²_{t|s}·σ_s²/σ_t². Mean: σ̃²·(α_{t|s}·z_t/σ²_{t|s} + α_s·z₀/σ_s²)
    /// = (α_{t|s}·σ_s²/σ_t²)·z_t + (α_s·σ²_{t|s}/σ_t²)·z₀.
    /// </para>
    /// At s = 0 the mean is ẑ₀ and the variance 0.
    /// </summary>
    public static LatentReverseStep Ddpm(TanDSchedule schedule, double t, double s)
    {
        var (at, st, @as, ss) = Check(schedule, t, s);
        double ats = at / @as;                                           // α_{t|s}
        double var_ts = Math.Max(0.0, st * st - ats * ats * ss * ss);    // σ²_{t|s} (rounding can give −0)
        double st2 = st * st;
        return new(ats * ss * ss / st2, @as * var_ts / st2, Math.Sqrt(var_ts * ss * ss / st2));
    }

    /// <summary>The step of <paramref name="kind"/>.</summary>
    public static LatentReverseStep For(LatentSamplerKind kind, TanDSchedule schedule, double t, double s) =>
        kind == LatentSamplerKind.Ddpm ? Ddpm(schedule, t, s) : Ddim(schedule, t, s);

    /// <summary>
    /// The time grid t_i = 1 − i/N, i = 0 … N, with t_0 = 1 clipped to <see cref="TanDSchedule.MaxTime"/> (SPEC §6.4) and
    /// t_N = 0 exactly.
    /// </summary>
    public static double[] TimeGrid(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return [.. Enumerable.Range(0, steps + 1).Select(i => TanDSchedule.Clip((double)(steps - i) / steps))];
    }

    static (double At, double St, double As, double Ss) Check(TanDSchedule schedule, double t, double s)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (!(s >= 0 && s < t && t <= 1)) throw new ArgumentOutOfRangeException(nameof(s), s, $"need 0 ≤ s < t ≤ 1, got s = {s}, t = {t}.");
        return (schedule.Alpha(t), schedule.Sigma(t), schedule.Alpha(s), schedule.Sigma(s));
    }
}
