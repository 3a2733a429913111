using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.TimeSampling;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.TimeSampling;

/// <summary>
/// The adaptive sampler (SPEC §6.5) fed a synthetic increasing loss curve: its bin probabilities and its draws follow the
/// discrete slope of the curve, and it stays uniform until every bin has seen a loss.
/// </summary>
public class AdaptiveTimestepSamplerCurveTests
{
    /// <summary>L(u) = A·max(0, u − u₀)^q: flat before u₀ (the floor is active there), concave for q &lt; 1, convex for q &gt; 1.</summary>
    sealed record Curve(int Bins, double Amplitude, double Power, double Start, double EmaRate, double Floor, int Seed)
    {
        public double Loss(double u) => Amplitude * Math.Pow(Math.Max(0, u - Start), Power);

        /// <summary>∫₀^u L = A·max(0, u − u₀)^{q+1}/(q + 1).</summary>
        double Integral(double u) => Amplitude * Math.Pow(Math.Max(0, u - Start), Power + 1) / (Power + 1);

        /// <summary>The exact bin means L̄_b = K·∫ L over bin b.</summary>
        public double[] BinMeans() => [.. Enumerable.Range(0, Bins).Select(b => Bins * (Integral((b + 1.0) / Bins) - Integral((double)b / Bins)))];

        /// <summary>p_b ∝ max(L̄_{b+1} − L̄_b, ε), the last bin reusing the difference before it (the sampler's documented choice).</summary>
        public double[] ExpectedProbabilities()
        {
            var mean = BinMeans();
            var w = Enumerable.Range(0, Bins).Select(b => { int lo = Math.Min(b, Bins - 2); return Math.Max(mean[lo + 1] - mean[lo], Floor); }).ToArray();
            double total = w.Sum();
            return [.. w.Select(v => v / total)];
        }
    }

    static Gen<Curve> Curves =>
        from bins in Gen.Choose(2, 12)
        from amplitude in Gen.Choose(5, 50).Select(i => i / 10.0)
        from power in Gen.Elements(0.3, 0.5, 1.0, 2.0, 3.0)
        from start in Gen.Elements(0.0, 0.0, 0.3)
        from ema in Gen.Elements(0.5, 0.9)
        from seed in Seed
        select new Curve(bins, amplitude, power, start, ema, 0.01 * amplitude / bins, seed);

    /// <summary>Feeds 40 batches of 6000 uniform times with their exact losses.</summary>
    static AdaptiveTimestepSampler Feed(Curve c)
    {
        var sampler = new AdaptiveTimestepSampler(c.Bins, c.EmaRate, c.Floor);
        var random = new Random(c.Seed);
        for (int batch = 0; batch < 40; batch++)
        {
            var t = Enumerable.Range(0, 6000).Select(_ => random.NextDouble()).ToArray();
            sampler.Update(t, [.. t.Select(c.Loss)]);
        }
        return sampler;
    }

    /// <summary>
    /// After feeding, p_b matches the curve's floored discrete slope within 10% (+0.002): the EMA of batch bin means
    /// scatters by about 1% here. The draws (n = 20000) match the same expected p_b within that plus 5 binomial SE.
    /// </summary>
    [Property(MaxTest = 60)]
    public Property ProbabilitiesAndDrawsFollowTheSlopeOfTheLoss() =>
        Prop.ForAll(Curves.ToArbitrary(), c =>
        {
            var sampler = Feed(c);
            var expected = c.ExpectedProbabilities();
            var p = sampler.BinProbabilities();
            const int n = 20000;
            using var scope = NewDisposeScope();
            var counts = new int[c.Bins];
            foreach (var u in sampler.Sample(n, new Generator((ulong)c.Seed), ScalarType.Float64).data<double>().ToArray()) counts[sampler.BinOf(u)]++;
            var badP = Enumerable.Range(0, c.Bins).Where(b => Math.Abs(p[b] - expected[b]) > 0.1 * expected[b] + 0.002).ToList();
            var badDraw = Enumerable.Range(0, c.Bins).Where(b =>
                Math.Abs((double)counts[b] / n - expected[b]) > 0.1 * expected[b] + 0.002 + 5 * Math.Sqrt(expected[b] * (1 - expected[b]) / n)).ToList();
            string show(IEnumerable<double> v) => string.Join(", ", v.Select(x => x.ToString("F4")));
            return (sampler.IsWarm).Label("not warm after 40 batches")
                .And((badP.Count == 0).Label($"p = [{show(p)}], expected [{show(expected)}]"))
                .And((badDraw.Count == 0).Label($"draws [{show(counts.Select(k => (double)k / n))}], expected [{show(expected)}]"))
                .Classify(c.Power < 1, "concave").Classify(c.Power > 1, "convex").Classify(c.Start > 0, "flat start (floor)");
        });

    /// <summary>With any bin still empty, p is exactly uniform and the draws pass a χ² test against uniform (p ≈ 5e-7);
    /// one loss in the missing bin ends the warm-up.</summary>
    [Property(MaxTest = 40)]
    public Property UniformUntilEveryBinHasData() =>
        Prop.ForAll(Gen.Zip(Curves, Gen.Choose(0, 11)).ToArbitrary(), x =>
        {
            var (c, missing) = x;
            missing %= c.Bins;
            var sampler = new AdaptiveTimestepSampler(c.Bins, c.EmaRate, c.Floor);
            var random = new Random(c.Seed);
            for (int batch = 0; batch < 5; batch++)
            {
                var t = Enumerable.Range(0, 500).Select(_ => random.NextDouble()).Where(u => sampler.BinOf(u) != missing).ToArray();
                sampler.Update(t, [.. t.Select(c.Loss)]);
            }
            var p = sampler.BinProbabilities();
            const int n = 20000;
            using var scope = NewDisposeScope();
            var counts = new int[c.Bins];
            foreach (var u in sampler.Sample(n, new Generator((ulong)c.Seed), ScalarType.Float64).data<double>().ToArray()) counts[sampler.BinOf(u)]++;
            double e = (double)n / c.Bins, chi2 = counts.Sum(k => (k - e) * (k - e) / e);
            int df = c.Bins - 1;
            double h = 2.0 / (9 * df), critical = df * Math.Pow(1 - h + 4.9 * Math.Sqrt(h), 3);
            bool coldUniform = !sampler.IsWarm && p.All(v => v == 1.0 / c.Bins);
            double inMissing = (missing + 0.5) / c.Bins;
            sampler.Update([inMissing], [c.Loss(inMissing)]);
            return coldUniform.Label($"cold sampler not uniform: [{string.Join(", ", p)}]")
                .And((chi2 <= critical).Label($"χ² = {chi2:F1} > {critical:F1}, counts {string.Join(",", counts)}"))
                .And(sampler.IsWarm.Label("still cold after the missing bin got a loss"));
        });
}
