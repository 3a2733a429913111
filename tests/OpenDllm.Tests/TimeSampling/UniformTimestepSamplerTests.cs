using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.TimeSampling;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.TimeSampling;

/// <summary>Plain t = ε + (1 − ε)U and Open-dLLM's clamped U(0, 1) (SPEC §1.5, §2.2).</summary>
public class UniformTimestepSamplerTests
{
    [Property(MaxTest = 100)]
    public Property UniformTimesLieInEpsilonToOneAndReproduce() =>
        Prop.ForAll(Zip(Gen.Choose(0, 500).Select(i => i / 1000.0), Gen.Choose(1, 200), Seed).ToArbitrary(), x =>
        {
            var (eps, n, seed) = x;
            using var scope = NewDisposeScope();
            var sampler = new UniformTimestepSampler(eps);
            var t = sampler.Sample(n, new Generator((ulong)seed), ScalarType.Float64);
            var again = sampler.Sample(n, new Generator((ulong)seed), ScalarType.Float64);
            return (t.ge(eps).all().item<bool>() && t.lt(1.0).all().item<bool>()).Label($"t outside [{eps}, 1)")
                .And(Fixture.Same(t, again).Label("same seed, different times"))
                .And(t.shape.SequenceEqual(new long[] { n }).Label("shape [n]"))
                .Classify(eps == 0, "ε = 0");
        });

    /// <summary>The empirical CDF is within a KS-style bound of the uniform CDF on [ε, 1] (n = 20000, bound 1.95/√n ≈ p 0.001).</summary>
    [Theory]
    [InlineData(1e-3, 1)] [InlineData(0.2, 2)]
    public void UniformTimesFollowTheUniformLaw(double eps, int seed)
    {
        using var scope = NewDisposeScope();
        const int n = 20000;
        var t = new UniformTimestepSampler(eps).Sample(n, new Generator((ulong)seed), ScalarType.Float64).sort().Values.data<double>().ToArray();
        double ks = t.Select((v, i) => Math.Max(Math.Abs((i + 1.0) / n - (v - eps) / (1 - eps)), Math.Abs((double)i / n - (v - eps) / (1 - eps)))).Max();
        Assert.True(ks < 1.95 / Math.Sqrt(n), $"KS distance {ks}");
    }

    [Fact]
    public void OpenDllmClampsToOneOverFiveHundred()
    {
        using var scope = NewDisposeScope();
        var t = ClampedUniformTimestepSampler.OpenDllm.Sample(50000, new Generator(3), ScalarType.Float64);
        Assert.Equal(1.0 / 500, t.min().item<double>());
        Assert.Equal(1.0 - 1.0 / 500, t.max().item<double>());
        double atLow = t.eq(1.0 / 500).sum().item<long>() / 50000.0;                  // point mass 1/500 at each end
        Assert.InRange(atLow, 0.002 - 5 * Math.Sqrt(0.002 * 0.998 / 50000), 0.002 + 5 * Math.Sqrt(0.002 * 0.998 / 50000));
        Assert.Equal(ScalarType.Float32, ClampedUniformTimestepSampler.OpenDllm.Sample(4, new Generator(3)).dtype);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClampedUniformTimestepSampler(0.6, 0.4));
    }
}
