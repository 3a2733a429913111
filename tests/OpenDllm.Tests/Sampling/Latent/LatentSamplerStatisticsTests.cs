using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling.Latent;

/// <summary>
/// The sampler on Gaussian data z₀ ~ N(μ, s²I) with the exact posterior-mean x0-predictor (<see cref="GaussianLatentDenoiser"/>).
/// Every scalar of the [B, K, d] latents evolves independently and linearly, so the output is Gaussian with moments
/// that a scalar recursion predicts exactly; the empirical mean and std of n = 20480 scalars must match them within
/// 5 standard errors (SE(mean) = sd/√n, SE(std) ≈ sd/√(2n)).
/// <para>
/// Neither update reproduces N(μ, s²) exactly at a finite step count: a point estimate ẑ₀ = E[z₀ | z_t] drops the
/// posterior spread Var[z₀ | z_t], so both samplers under-disperse (at 50 steps, s = 0.7: DDIM std ≈ 0.946·s, DDPM
/// ≈ 0.889·s); both converge to s as N grows, which <see cref="ManyStepsReachTheDataDistribution"/> checks.
/// </para>
/// </summary>
public class LatentSamplerStatisticsTests
{
    const double Mu = 1.5, S = 0.7;
    const long B = 40, K = 32, D = 16;                                                           // n = 20480 scalars
    static readonly TanDSchedule Schedule = new(3.0);

    [Theory]
    [InlineData(LatentSamplerKind.Ddim, 50)]
    [InlineData(LatentSamplerKind.Ddpm, 50)]
    [InlineData(LatentSamplerKind.Ddim, 7)]
    [InlineData(LatentSamplerKind.Ddpm, 7)]
    public void MomentsMatchTheExactRecursion(LatentSamplerKind kind, int steps)
    {
        var (mean, std) = Empirical(kind, steps, seed: 11);
        var (expectedMean, expectedStd) = PredictedMoments(kind, steps);
        AssertWithin(expectedMean, mean, 5 * expectedStd / Math.Sqrt(B * K * D), "mean");
        AssertWithin(expectedStd, std, 5 * expectedStd / Math.Sqrt(2.0 * B * K * D), "std");
    }

    /// <summary>The limit: with 500 steps both samplers give mean ≈ μ and std within 3% of s (the recursion predicts
    /// DDIM −0.6%, DDPM −1.5%; SE(std) ≈ 0.5%).</summary>
    [Theory]
    [InlineData(LatentSamplerKind.Ddim)]
    [InlineData(LatentSamplerKind.Ddpm)]
    public void ManyStepsReachTheDataDistribution(LatentSamplerKind kind)
    {
        var (mean, std) = Empirical(kind, 500, seed: 5);
        AssertWithin(Mu, mean, 5 * S / Math.Sqrt(B * K * D), "mean");
        AssertWithin(S, std, 0.03 * S, "std");
    }

    static (double Mean, double Std) Empirical(LatentSamplerKind kind, int steps, long seed)
    {
        using var scope = NewDisposeScope();
        var denoiser = new GaussianLatentDenoiser(K, D, Mu, S, Schedule);
        using var decoder = new LinearLatentDecoder(K, D, vocab: 8);
        var run = new LatentSampler(new() { Steps = steps, Kind = kind, Seed = seed }).Generate(denoiser, decoder, (int)B, schedule: Schedule);
        var z = run.Latents.to(ScalarType.Float64);
        return (z.mean().item<double>(), z.std().item<double>());
    }

    /// <summary>
    /// Mean and std of the output predicted by propagating N(m, v) through the sampler, written independently of
    /// <see cref="LatentReverseStep"/>. The predictor is linear, ẑ₀ = c·z_t + μ(1 − c·α_t) with c = α_t s²/v_t,
    /// v_t = α_t²s² + σ_t². DDIM: z_s − α_s μ = f·(z_t − α_t μ) with f = (α_s α_t s² + σ_s σ_t)/v_t (substitute ẑ₀ in
    /// α_s ẑ₀ + σ_s (z_t − α_t ẑ₀)/σ_t). DDPM in Ho et al.'s notation (ᾱ = α², β = 1 − ᾱ_t/ᾱ_s):
    /// z_s = (√ᾱ_s β/(1 − ᾱ_t))·ẑ₀ + (√(ᾱ_t/ᾱ_s)(1 − ᾱ_s)/(1 − ᾱ_t))·z_t + √((1 − ᾱ_s)β/(1 − ᾱ_t))·ξ.
    /// </summary>
    internal static (double Mean, double Std) PredictedMoments(LatentSamplerKind kind, int steps)
    {
        double m = 0, v = 1;                                                                    // z₁ ~ N(0, 1)
        for (int i = 0; i < steps; i++)
        {
            double t = Math.Min(1 - (double)i / steps, TanDSchedule.MaxTime), s = (double)(steps - i - 1) / steps;
            double at = Schedule.Alpha(t), st = Schedule.Sigma(t), @as = Schedule.Alpha(s), ss = Schedule.Sigma(s);
            double vt = at * at * S * S + st * st, c = at * S * S / vt;
            if (i == steps - 1) { m = c * m + Mu * (1 - c * at); v = c * c * v; break; }
            if (kind == LatentSamplerKind.Ddim)
            {
                double f = (@as * at * S * S + ss * st) / vt;
                m = @as * Mu + f * (m - at * Mu);
                v = f * f * v;
            }
            else
            {
                double abt = at * at, abs = @as * @as, beta = 1 - abt / abs;
                double p = Math.Sqrt(abs) * beta / (1 - abt), q = Math.Sqrt(abt / abs) * (1 - abs) / (1 - abt);
                m = p * (c * m + Mu * (1 - c * at)) + q * m;
                v = (p * c + q) * (p * c + q) * v + (1 - abs) * beta / (1 - abt);
            }
        }
        return (m, Math.Sqrt(v));
    }

    static void AssertWithin(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance, $"{what}: {actual:F5}, expected {expected:F5} ± {tolerance:F5}");
}
