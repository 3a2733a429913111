using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;

namespace OpenDllm.Tests.Sampling.Latent;

/// <summary>The reverse-step coefficients of <see cref="LatentReverseStep"/> (SPEC §6.4).</summary>
public class LatentReverseStepTests
{
    static readonly TanDSchedule D3 = new(3.0);

    /// <summary>
    /// Both updates are consistent with the forward process: averaging the step over z_t ~ q(z_t | z₀) with ẑ₀ = z₀
    /// gives q(z_s | z₀) = N(α_s z₀, σ_s²), i.e. a·α_t + b = α_s and a²σ_t² + c² = σ_s² (a, b, c = Noisy, Clean, NoiseStd).
    /// DDPM's mean coefficients also equal Ho et al.'s form with ᾱ = α², β = 1 − ᾱ_t/ᾱ_s.
    /// </summary>
    [Property(MaxTest = 300)]
    public Property StepsPreserveTheForwardMarginal() =>
        Prop.ForAll(OrderedPair.ToArbitrary(), pair =>
        {
            var (s, t) = pair;
            double at = D3.Alpha(t), st = D3.Sigma(t), @as = D3.Alpha(s), ss = D3.Sigma(s);
            var ddim = LatentReverseStep.Ddim(D3, t, s);
            var ddpm = LatentReverseStep.Ddpm(D3, t, s);
            double abt = at * at, abs = @as * @as, beta = 1 - abt / abs;
            bool Close(double x, double y) => Math.Abs(x - y) <= 1e-9;
            return Close(ddim.Noisy * at + ddim.Clean, @as).Label($"DDIM mean: {ddim}")
                .And(Close(ddim.Noisy * ddim.Noisy * st * st, ss * ss).Label($"DDIM variance: {ddim}"))
                .And((ddim.NoiseStd == 0).Label("DDIM draws noise"))
                .And(Close(ddpm.Noisy * at + ddpm.Clean, @as).Label($"DDPM mean: {ddpm}"))
                .And(Close(ddpm.Noisy * ddpm.Noisy * st * st + ddpm.NoiseStd * ddpm.NoiseStd, ss * ss).Label($"DDPM variance: {ddpm}"))
                .And(Close(ddpm.Clean, Math.Sqrt(abs) * beta / (1 - abt)).Label("DDPM ẑ₀ weight ≠ Ho et al."))
                .And(Close(ddpm.Noisy, Math.Sqrt(abt / abs) * (1 - abs) / (1 - abt)).Label("DDPM z_t weight ≠ Ho et al."))
                .Classify(s == 0, "s = 0");
        });

    [Fact]
    public void LastStepReturnsThePrediction()
    {
        Assert.Equal(new LatentReverseStep(0, 1, 0), LatentReverseStep.Ddim(D3, 0.1, 0));
        Assert.Equal(new LatentReverseStep(0, 1, 0), LatentReverseStep.Ddpm(D3, 0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentReverseStep.Ddim(D3, 0.3, 0.3));
    }

    [Fact]
    public void TimeGridIsOneMinusIOverNWithTheFirstTimeClipped()
    {
        Assert.Equal([TanDSchedule.MaxTime, 0.75, 0.5, 0.25, 0.0], LatentReverseStep.TimeGrid(4));
        Assert.Equal([TanDSchedule.MaxTime, 0.0], LatentReverseStep.TimeGrid(1));
    }
}
