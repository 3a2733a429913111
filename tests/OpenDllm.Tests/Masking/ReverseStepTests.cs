using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Masking;
using OpenDllm.Schedules;
using static OpenDllm.Tests.Masking.ForwardMaskingTests;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Masking;

/// <summary>The exact reverse step q(x_s | x_t, x_0) (SPEC §1.1) composed with the forward process.</summary>
public class ReverseStepTests
{
    private const long MaskId = 100;

    /// <summary>
    /// Masking to t then reverse-stepping to s has the law of masking to s: the masked fraction after the two steps lies
    /// within a binomial tolerance of 1 − α(s) (and of a direct forward draw to s), masks only shrink, and unmasked
    /// tokens are restored to x0.
    /// </summary>
    [Property(MaxTest = 40)]
    public Property ForwardToTThenReverseToSMatchesForwardToS() =>
        Prop.ForAll(Zip(Schedule, OrderedPair, Seed).ToArbitrary(), x =>
        {
            var (schedule, (s, t), seed) = x;
            using var scope = NewDisposeScope();
            const long B = 4, L = 4096;
            var x0 = Tokens(B, L, seed);
            var atT = ForwardMasking.Apply(x0, full([B, 1], t), schedule, MaskId, null, new Generator((ulong)seed + 1));
            var atS = ForwardMasking.ReverseStep(atT, x0, full([B, 1], s), schedule, new Generator((ulong)seed + 2));
            var direct = ForwardMasking.Apply(x0, full([B, 1], s), schedule, MaskId, null, new Generator((ulong)seed + 3));
            double p = 1 - schedule.Alpha(s);
            long n = B * L, composed = atS.Masked.sum().item<long>(), forward = direct.Masked.sum().item<long>();
            double twoSample = 5 * Math.Sqrt(2 * p * (1 - p) / n) + 2.0 / n;
            bool shrinks = !atS.Masked.logical_and(atT.Masked.logical_not()).any().item<bool>();
            var clean = atS.Masked.logical_not();
            bool restored = atS.Tokens.masked_select(clean).SameAs(x0.masked_select(clean)) && atS.Tokens.masked_select(atS.Masked).eq(MaskId).all().item<bool>();
            return WithinBinomial(composed, n, p, out var detail).Label("composed: " + detail)
                .And((Math.Abs((double)(composed - forward) / n) <= twoSample).Label($"composed {composed} vs direct {forward} masks"))
                .And(shrinks.Label("a token unmasked at t is masked at s"))
                .And(restored.Label("unmasked tokens must equal x0, masked ones m"))
                .And(atS.TPerToken.eq(s).all().item<bool>().Label("TPerToken = s"))
                .Classify(s == 0, "s = 0").Classify(t - s < 0.05, "small step").Collect(schedule.Name);
        });

    [Fact]
    public void ReverseStepToZeroRestoresX0AndRejectsSAfterT()
    {
        using var scope = NewDisposeScope();
        var x0 = Tokens(2, 64, 3);
        var linear = LinearSchedule.Instance;
        var atT = ForwardMasking.Apply(x0, full([2, 1], 0.7), linear, MaskId, null, new Generator(4));
        var atZero = ForwardMasking.ReverseStep(atT, x0, zeros([2, 1]), linear, new Generator(5));
        Assert.True(atZero.Tokens.SameAs(x0));
        Assert.False(atZero.Masked.any().item<bool>());
        Assert.Throws<ArgumentException>(() => ForwardMasking.ReverseStep(atT, x0, full([2, 1], 0.8), linear, new Generator(5)));
    }
}
