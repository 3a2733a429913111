using OpenDllm.Interactive;
using OpenDllm.Objectives;
using OpenDllm.TimeSampling;

namespace OpenDllm.Tests.Rendering;

/// <summary>LDLM's charts: γ(s) with the step marked, the adaptive sampler's density heatmap and loss EMA curves.</summary>
public sealed class LatentChartTests : IDisposable
{
    readonly string _dir = RenderingFixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    void AssertPng(Figure figure, string name)
    {
        var path = Path.Combine(_dir, name);
        figure.SavePng(path);
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(RenderingFixtures.PngSignature, bytes[..8]);
    }

    /// <summary>Four readings of a sampler fed a loss that rises with t until t = 0.5, then is flat.</summary>
    static List<AdaptiveTimesSnapshot> Readings()
    {
        var sampler = new AdaptiveTimestepSampler(bins: 4, emaRate: 0.5, floor: 1e-3);
        var readings = new List<AdaptiveTimesSnapshot> { AdaptiveTimesSnapshot.Of(0, sampler) };
        sampler.Update([0.1, 0.3], [1.0, 2.0]);                                         // bins 0, 1 only: still uniform
        readings.Add(AdaptiveTimesSnapshot.Of(1, sampler));
        sampler.Update([0.1, 0.3, 0.6, 0.9], [1.0, 2.0, 3.0, 3.0]);
        readings.Add(AdaptiveTimesSnapshot.Of(2, sampler));
        sampler.Update([0.1, 0.3, 0.6, 0.9], [1.0, 2.0, 3.0, 3.0]);
        readings.Add(AdaptiveTimesSnapshot.Of(3, sampler));
        return readings;
    }

    [Fact]
    public void SnapshotsCopyTheSamplerState()
    {
        var readings = Readings();
        Assert.All(readings[0].Ema, e => Assert.Null(e));
        Assert.False(readings[1].IsWarm);
        Assert.Equal([0.25, 0.25, 0.25, 0.25], readings[1].Probabilities);
        Assert.True(readings[3].IsWarm);
        // slopes 1, 1, 0 → floor, last bin reuses the backward difference: weights 1, 1, ε, ε
        Assert.Equal(1.0 / (2 + 2e-3), readings[3].Probabilities[0], 12);
        Assert.Equal(1e-3 / (2 + 2e-3), readings[3].Probabilities[3], 12);
        Assert.Equal(1.0, readings[3].Probabilities.Sum(), 12);
    }

    [Fact]
    public void AdaptiveDensityIsAHeatmapOfKTimesP()
    {
        var readings = Readings();
        var figure = LatentCharts.AdaptiveDensity(readings);
        Assert.False(figure.UsesPlotly);
        var html = figure.ToHtmlFragment();
        Assert.Equal(4 * 4, System.Text.RegularExpressions.Regex.Matches(html, "K·p = ").Count);   // one cell per reading and bin
        Assert.Contains("step 3, t ∈ [0, 0.25): K·p = " + Html.Number(4 * readings[3].Probabilities[0]), html);
        Assert.Contains("step 1, t ∈ [0.75, 1): K·p = 1\"", html);                                 // uniform while warming up
        Assert.DoesNotContain("<script", html);
        AssertPng(figure, "density.png");
    }

    [Fact]
    public void AdaptiveLossesDrawTheKnownBinsOfSpreadReadings()
    {
        var figure = LatentCharts.AdaptiveLosses(Readings(), curves: 2);
        Assert.True(figure.UsesPlotly);
        var html = figure.ToHtmlFragment();
        Assert.Contains("\"name\":\"step 1\"", html);         // the first reading with an EMA …
        Assert.Contains("\"name\":\"step 3\"", html);         // … and the last
        Assert.DoesNotContain("\"name\":\"step 2\"", html);
        Assert.Contains("\"x\":[0.125,0.375]", html);         // step 1 knows bins 0 and 1 only
        AssertPng(figure, "losses.png");
    }

    [Fact]
    public void AdaptiveChartsRefuseEmptyOrMixedReadings()
    {
        Assert.Throws<ArgumentException>(() => LatentCharts.AdaptiveDensity([]));
        var mixed = new List<AdaptiveTimesSnapshot> { Readings()[0], new(1, [0.5, 0.5], [null, null]) };
        Assert.Throws<ArgumentException>(() => LatentCharts.AdaptiveDensity(mixed));
        Assert.Throws<ArgumentException>(() => LatentCharts.AdaptiveLosses([Readings()[0]]));   // no bin has an EMA yet
    }

    [Fact]
    public void WarmupDrawsGammaAndMarksTheStep()
    {
        var figure = LatentCharts.Warmup(100, step: 80);
        var html = figure.ToHtmlFragment();
        Assert.Contains("step 80: γ = 0.5", html);
        Assert.Contains(DiffusionWarmup.Gamma(100, 100).ToString("R", System.Globalization.CultureInfo.InvariantCulture)[..8], html);
        AssertPng(figure, "gamma.png");
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentCharts.Warmup(100, step: 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentCharts.Warmup(0));
    }
}
