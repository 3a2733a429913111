using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.TimeSampling;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.TimeSampling;

/// <summary>The adaptive sampler of SPEC §6.5.</summary>
public class AdaptiveTimestepSamplerTests
{
    /// <summary>A warmed-up sampler: K bins, a random increasing-ish loss curve fed as a few batches (with noise that may break monotonicity).</summary>
    private sealed record Warm(int Bins, double EmaRate, double Floor, double[][] Times, double[][] Losses);

    private static Gen<Warm> WarmSamplers =>
        from bins in Gen.Choose(1, 12)
        from ema in Gen.Elements(0.0, 0.5, 0.9)
        from floor in Gen.Elements(0.05, 0.2)
        from steps in Gen.Choose(1, 4)
        from slopes in Gen.ArrayOf(Gen.Choose(-20, 100).Select(i => i / 100.0), bins)
        from noise in Gen.ArrayOf(Gen.ArrayOf(Gen.Choose(-10, 10).Select(i => i / 100.0), bins), steps)
        select new Warm(bins, ema, floor,
            [.. Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, bins).Select(b => (b + 0.5) / bins).ToArray())],
            [.. noise.Select(row => row.Select((e, b) => slopes.Take(b + 1).Sum() + e).ToArray())]);

    private static AdaptiveTimestepSampler Build(Warm w)
    {
        var sampler = new AdaptiveTimestepSampler(w.Bins, w.EmaRate, w.Floor);
        for (int i = 0; i < w.Times.Length; i++) sampler.Update(w.Times[i], w.Losses[i]);
        return sampler;
    }

    [Fact]
    public void WarmStartIsUniformUntilEveryBinHasAnEma()
    {
        var sampler = new AdaptiveTimestepSampler(bins: 4, emaRate: 0.5, floor: 1e-3);
        sampler.Update([0.1, 0.3, 0.6], [1.0, 2.0, 5.0]);                                   // bin 3 still empty
        Assert.False(sampler.IsWarm);
        Assert.All(new[] { 0.05, 0.4, 0.7, 0.99 }, u => Assert.Equal(1.0, sampler.Density(u)));
        sampler.Update([0.9], [6.0]);
        Assert.True(sampler.IsWarm);
        // L̄ = (1, 2, 5, 6): w = (1, 3, 1, 1 [backward difference]) / 6, density = 4·p
        Assert.Equal(new[] { 4 / 6.0, 12 / 6.0, 4 / 6.0, 4 / 6.0 }, new[] { 0.1, 0.3, 0.6, 0.9 }.Select(sampler.Density), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void EmaUpdateRuleAndFloor()
    {
        var sampler = new AdaptiveTimestepSampler(bins: 2, emaRate: 0.9, floor: 0.25);
        sampler.Update([0.2, 0.3, 0.8], [1.0, 3.0, 2.0]);                                  // first batch: bin means initialise (2, 2)
        Assert.Equal(new double?[] { 2.0, 2.0 }, sampler.Ema);
        sampler.Update([0.25], [12.0]);                                                     // 0.9·2 + 0.1·12 = 3
        Assert.Equal(3.0, sampler.Ema[0]!.Value, 12);
        Assert.Equal(2.0, sampler.Ema[1]);
        Assert.Equal(new[] { 0.5, 0.5 }, sampler.BinProbabilities());                       // decreasing loss: both bins at the floor
        Assert.Throws<ArgumentException>(() => sampler.Update([0.5], [double.NaN]));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Update([1.5], [1.0]));
    }

    /// <summary>∫₀¹ density(u) du = 1 by the midpoint rule on a grid 10× finer than the bins (exact for a step function).</summary>
    [Property(MaxTest = 200)]
    public Property DensityIntegratesToOne() =>
        Prop.ForAll(WarmSamplers.ToArbitrary(), w =>
        {
            var sampler = Build(w);
            int m = 10 * w.Bins;
            double integral = Enumerable.Range(0, m).Sum(i => sampler.Density((i + 0.5) / m)) / m;
            var p = sampler.BinProbabilities();
            return (Math.Abs(integral - 1) < 1e-9).Label($"∫ density = {integral}")
                .And(p.All(v => v > 0).Label("a bin has zero probability"))
                .Classify(w.Bins == 1, "K = 1").Classify(p.Max() > 3 * p.Min(), "non-uniform");
        });

    /// <summary>Samples fall in bins with the frequencies p_b: chi-square over the K bins, n = 20000, critical value at p ≈ 1e-6.</summary>
    [Property(MaxTest = 40)]
    public Property SamplesFollowTheDensity() =>
        Prop.ForAll(Gen.Zip(WarmSamplers, Seed).ToArbitrary(), x =>
        {
            var (w, seed) = x;
            using var scope = NewDisposeScope();
            var sampler = Build(w);
            const int n = 20000;
            var t = sampler.Sample(n, new Generator((ulong)seed), ScalarType.Float64).data<double>().ToArray();
            var counts = new int[w.Bins];
            foreach (var v in t) counts[sampler.BinOf(v)]++;
            var p = sampler.BinProbabilities();
            double chi2 = counts.Select((c, b) => (c - n * p[b]) * (c - n * p[b]) / (n * p[b])).Sum();
            int df = Math.Max(1, w.Bins - 1);
            double h = 2.0 / (9 * df), critical = df * Math.Pow(1 - h + 4.9 * Math.Sqrt(h), 3);  // Wilson–Hilferty, z = 4.9 (p ≈ 5e-7)
            return (chi2 <= critical).Label($"χ² = {chi2:F1} > {critical:F1} (df {df}), counts {string.Join(",", counts)}")
                .And(t.All(v => v is >= 0 and <= 1).Label("t outside [0, 1]"))
                .Classify(w.Bins == 1, "K = 1").Classify(p.Max() > 3 * p.Min(), "non-uniform");
        });

    [Property(MaxTest = 100)]
    public Property StateRoundTripsThroughJson() =>
        Prop.ForAll(Zip(WarmSamplers, Gen.Elements(true, false), Seed).ToArbitrary(), x =>
        {
            var (w, partial, seed) = x;
            var sampler = partial ? new AdaptiveTimestepSampler(w.Bins + 1, w.EmaRate, w.Floor) : Build(w);
            if (partial) sampler.Update(w.Times[0], w.Losses[0]);                               // last bin has no EMA yet
            string json = JsonSerializer.Serialize(sampler.SaveState());
            var restored = AdaptiveTimestepSampler.FromState(JsonSerializer.Deserialize<AdaptiveTimestepSamplerState>(json)!);
            using var scope = NewDisposeScope();
            var a = sampler.Sample(32, new Generator((ulong)seed), ScalarType.Float64);
            var b = restored.Sample(32, new Generator((ulong)seed), ScalarType.Float64);
            return (JsonSerializer.Serialize(restored.SaveState()) == json).Label("re-serialised state differs")
                .And(restored.Ema.SequenceEqual(sampler.Ema).Label("EMA differs"))
                .And((restored.Updates == sampler.Updates && restored.IsWarm == sampler.IsWarm).Label("counters differ"))
                .And(Fixture.Same(a, b).Label("restored sampler draws differently"))
                .Classify(partial, "warming up (null EMA entries)");
        });

    [Fact]
    public void FromStateRejectsMismatchedEmaLength() =>
        Assert.Throws<ArgumentException>(() => AdaptiveTimestepSampler.FromState(new AdaptiveTimestepSamplerState(3, 0.9, 1e-3, [1.0, 2.0], 1)));

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double value) => 0;
    }
}
