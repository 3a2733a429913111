using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.TimeSampling;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.TimeSampling;

/// <summary>Antithetic / stratified times (SPEC §1.5): one per stratum.</summary>
public class AntitheticTimestepSamplerTests
{
    [Property(MaxTest = 200)]
    public Property DrawJLiesInStratumJ() =>
        Prop.ForAll(Zip(Gen.Choose(1, 64), Gen.Elements(0.0, 1e-3, 0.1), Gen.Elements(false, true), Seed).ToArbitrary(), x =>
        {
            var (n, eps, shared, seed) = x;
            using var scope = NewDisposeScope();
            var sampler = new AntitheticTimestepSampler(eps, shared);
            var t = sampler.Sample(n, new Generator((ulong)seed), ScalarType.Float64).data<double>().ToArray();
            var strata = t.Select(v => sampler.StratumOf(v, n)).ToArray();
            bool inOrder = strata.SequenceEqual(Enumerable.Range(0, n).Select(j => (long)j));
            bool inRange = t.All(v => v >= eps && v < 1);
            var offsets = t.Select((v, j) => (v - eps) / (1 - eps) * n - j).ToArray();          // u_j·n − j ∈ [0, 1)
            bool sharedOk = !shared || offsets.All(o => Math.Abs(o - offsets[0]) < 1e-9);
            return inOrder.Label($"strata {string.Join(",", strata)}")
                .And(inRange.Label($"t outside [{eps}, 1)"))
                .And(sharedOk.Label("shared offset differs between strata"))
                .Classify(n == 1, "n = 1").Classify(shared, "shared u0");
        });

    [Fact]
    public void SameSeedReproducesAndMeanIsNearTheMiddle()
    {
        using var scope = NewDisposeScope();
        var sampler = new AntitheticTimestepSampler();
        var a = sampler.Sample(1000, new Generator(9));
        Assert.True(Fixture.Same(a, sampler.Sample(1000, new Generator(9))));
        Assert.Equal(ScalarType.Float32, a.dtype);
        Assert.Equal((1 + 1e-3) / 2, a.mean().item<float>(), 1e-3);                      // stratification: |mean − ½| ≤ 1/(2n)
    }
}
