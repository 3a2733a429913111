using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Masking;
using OpenDllm.Schedules;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Masking;

/// <summary>The forward absorbing process q(x_t | x_0) (SPEC §1.1).</summary>
public class ForwardMaskingTests
{
    private const long MaskId = 100;

    internal static Tensor Tokens(long batch, long length, int seed) =>
        randint(0, MaskId, [batch, length], dtype: ScalarType.Int64, generator: new Generator((ulong)seed));

    /// <summary>
    /// |k/n − p| ≤ 5σ + 1/n with σ = √(p(1 − p)/n). FsCheck draws fresh seeds every run, so the bound is 5σ
    /// (two-sided false alarm ≈ 6e-7 per check) to keep the suite from flaking.
    /// </summary>
    internal static bool WithinBinomial(long k, long n, double p, out string detail)
    {
        double rate = (double)k / n, tol = 5 * Math.Sqrt(p * (1 - p) / n) + 1.0 / n;
        detail = $"rate {rate:F5} vs p = {p:F5} (tolerance {tol:F5}, n = {n})";
        return Math.Abs(rate - p) <= tol;
    }

    [Property(MaxTest = 60)]
    public Property EmpiricalMaskRateIsWithinBinomialToleranceOfOneMinusAlpha() =>
        Prop.ForAll(Zip(Schedule, PositiveTime, Seed).ToArbitrary(), x =>
        {
            var (schedule, t, seed) = x;
            using var scope = NewDisposeScope();
            var x0 = Tokens(4, 4096, seed);
            var batch = ForwardMasking.Apply(x0, full([4, 1], t), schedule, MaskId, null, new Generator((ulong)seed + 1));
            long k = batch.Masked.sum().item<long>();
            bool ok = WithinBinomial(k, x0.numel(), 1 - schedule.Alpha(t), out var detail);
            bool consistent = batch.Tokens.eq(MaskId).SameAs(batch.Masked) && batch.Tokens.masked_select(batch.Masked.logical_not()).SameAs(x0.masked_select(batch.Masked.logical_not()));
            return ok.Label(detail)
                .And(consistent.Label("x_t = m exactly on Masked, x0 elsewhere"))
                .Classify(t < 0.1, "t < 0.1").Classify(t > 0.9, "t > 0.9").Collect(schedule.Name);
        });

    [Property(MaxTest = 60)]
    public Property NonMaskablePositionsAreNeverMasked() =>
        Prop.ForAll(Zip(Schedule, PositiveTime, Seed).ToArbitrary(), x =>
        {
            var (schedule, t, seed) = x;
            using var scope = NewDisposeScope();
            var x0 = Tokens(3, 64, seed);
            var maskable = rand([3, 64], generator: new Generator((ulong)seed + 2)).lt(0.5);         // prompt/pad pattern
            var batch = ForwardMasking.Apply(x0, full([3, 64], t), schedule, MaskId, maskable, new Generator((ulong)seed + 1));
            var fixedPositions = maskable.logical_not();
            bool neverMasked = !batch.Masked.logical_and(fixedPositions).any().item<bool>();
            bool untouched = batch.Tokens.masked_select(fixedPositions).SameAs(x0.masked_select(fixedPositions));
            return neverMasked.Label("a maskable = false position was masked")
                .And(untouched.Label("a maskable = false token changed"))
                .Classify(t == 1, "t = 1 (every maskable token masked)").Collect(schedule.Name);
        });

    [Property(MaxTest = 30)]
    public Property SameSeedGivesSameMasksAndOtherSeedsDiffer() =>
        Prop.ForAll(Zip(Schedule, OpenTime, Seed).ToArbitrary(), x =>
        {
            var (schedule, t, seed) = x;
            using var scope = NewDisposeScope();
            var x0 = Tokens(2, 256, seed);
            var tt = full([2, 256], t);
            var a = ForwardMasking.Apply(x0, tt, schedule, MaskId, null, new Generator((ulong)seed));
            var b = ForwardMasking.Apply(x0, tt, schedule, MaskId, null, new Generator((ulong)seed));
            var c = ForwardMasking.Apply(x0, tt, schedule, MaskId, null, new Generator((ulong)seed + 1));
            bool degenerate = a.Masked.all().item<bool>() || !a.Masked.any().item<bool>();
            return a.Masked.SameAs(b.Masked).Label("same seed, different masks")
                .And(a.Tokens.SameAs(b.Tokens).Label("same seed, different tokens"))
                .And((degenerate || !a.Masked.SameAs(c.Masked)).Label("different seeds, identical masks"))
                .Classify(degenerate, "all or none masked");
        });

    [Fact]
    public void TimeOneMasksEveryMaskableTokenAndTimeZeroNone()
    {
        using var scope = NewDisposeScope();
        var x0 = Tokens(2, 32, 7);
        var maskable = ones([2, 32], dtype: ScalarType.Bool);
        maskable.narrow(1, 0, 4).fill_(false);                                                   // a 4-token prompt
        var linear = MaskSchedules.Create("linear");
        var all = ForwardMasking.Apply(x0, full([2, 1], 1.0), linear, MaskId, maskable, new Generator(1));
        Assert.True(all.Masked.SameAs(maskable));
        Assert.Equal([2L, 32L], all.TPerToken.shape);
        var none = ForwardMasking.Apply(x0, full([2, 1], 0.0), linear, MaskId, maskable, new Generator(1));
        Assert.False(none.Masked.any().item<bool>());
        Assert.True(none.Tokens.SameAs(x0));
    }

    [Fact]
    public void RejectsTokensThatAreNotTwoDimensional()
    {
        using var x0 = zeros([8], dtype: ScalarType.Int64);
        using var t = zeros([8]);
        Assert.Throws<ArgumentException>(() => ForwardMasking.Apply(x0, t, LinearSchedule.Instance, MaskId, null, new Generator(1)));
    }
}
