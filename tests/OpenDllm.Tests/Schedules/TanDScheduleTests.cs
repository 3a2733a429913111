using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Schedules;

/// <summary>The LDLM tan-d VP schedule (SPEC §6.4).</summary>
public class TanDScheduleTests
{
    private static readonly TanDSchedule D3 = new(3.0);

    /// <summary>The SPEC §6.4 table for d = 3 (4 decimals).</summary>
    [Theory]
    [InlineData(0.1, 0.9032, 0.4292)]
    [InlineData(0.25, 0.6269, 0.7791)]
    [InlineData(0.5, 0.3162, 0.9487)]
    [InlineData(0.75, 0.1368, 0.9906)]
    [InlineData(0.9, 0.0527, 0.9986)]
    public void MatchesSpecTable(double t, double alpha, double sigma)
    {
        Assert.Equal(alpha, D3.Alpha(t), 4);
        Assert.Equal(sigma, D3.Sigma(t), 4);
        using var tt = tensor(new[] { t }, dtype: ScalarType.Float64);
        using var a = D3.Alpha(tt);
        using var s = D3.Sigma(tt);
        Assert.Equal(D3.Alpha(t), a.item<double>(), 12);
        Assert.Equal(D3.Sigma(t), s.item<double>(), 12);
    }

    [Fact]
    public void BoundariesAndClip()
    {
        Assert.Equal(1.0, D3.Alpha(0.0));
        Assert.Equal(0.0, D3.Sigma(0.0));
        Assert.Equal(D3.Alpha(TanDSchedule.MaxTime), D3.Alpha(1.0));
        Assert.True(D3.Alpha(1.0) is > 0 and < 1e-4, $"α(1) = {D3.Alpha(1.0)}");
        Assert.True(double.IsFinite(D3.Beta(1.0)));
        Assert.Equal(Math.PI * 9 * 2 / 10, D3.Beta(0.5), 12);                     // tan(π/4) = 1: π·9·1·2/(1 + 9)
        Assert.Equal(1.0 / 9.0, D3.Snr(0.5), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => D3.Alpha(-0.1));
    }

    /// <summary>α² + σ² = 1, α decreasing, β(t) = −d/dt log α_t² (central difference).</summary>
    [Property(MaxTest = 300)]
    public Property VariancePreservingDecreasingAndBetaIsTheDrift() =>
        Prop.ForAll(Gen.Zip(Gen.Choose(1, 40).Select(i => i / 4.0), Gen.Choose(10, 980)).ToArbitrary(), x =>
        {
            var (d, k) = x;
            var schedule = new TanDSchedule(d);
            double t = k / 1000.0, h = 1e-6;
            double a = schedule.Alpha(t), s = schedule.Sigma(t);
            double numericBeta = -(Math.Log(Math.Pow(schedule.Alpha(t + h), 2)) - Math.Log(Math.Pow(schedule.Alpha(t - h), 2))) / (2 * h);
            double beta = schedule.Beta(t);
            return (Math.Abs(a * a + s * s - 1) <= 1e-12).Label($"α² + σ² = {a * a + s * s}")
                .And((schedule.Alpha(t + 0.001) < a).Label("α decreasing"))
                .And((Math.Abs(numericBeta - beta) <= 1e-5 * Math.Max(1, beta)).Label($"β = {beta}, −d log α²/dt = {numericBeta}"))
                .Classify(d == 3, "d = 3").Classify(t > 0.9, "t > 0.9");
        });
}
