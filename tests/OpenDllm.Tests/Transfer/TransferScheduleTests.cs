using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling.Transfer;
using OpenDllm.Tests.Objectives;

namespace OpenDllm.Tests.Transfer;

public class TransferScheduleTests
{
    public enum Rule { Dream, DreamSkipZero, Llada, AlphaLinear }

    private static int[] QuotasOf(Rule rule, int n, int steps) => rule switch
    {
        Rule.Dream => DreamTransferSchedule.Quotas(n, steps),
        Rule.DreamSkipZero => DreamTransferSchedule.Quotas(n, steps, skipZeroSteps: true),
        Rule.Llada => LladaTransferSchedule.Quotas(n, steps),
        _ => AlphaTransferSchedule.Quotas(n, steps, OpenDllm.Schedules.LinearSchedule.Instance),
    };

    /// <summary>Every rule, n ∈ [0, 300], steps ∈ [1, 300]: quotas ≥ 0, sum = n, at most <c>steps</c> entries.</summary>
    [Property(MaxTest = 400)]
    public Property QuotasAreNonNegativeAndSumToMaskCount() => Prop.ForAll(
        (from n in Gen.OneOf(Gen.Choose(0, 300), Gen.Elements(0, 1, 128, 300))
         from steps in Gen.OneOf(Gen.Choose(1, 300), Gen.Elements(1, 128, 300)) from rule in Gen.Elements(Enum.GetValues<Rule>())
         select (n, steps, rule)).ToArbitrary(),
        c =>
        {
            var q = QuotasOf(c.rule, c.n, c.steps);
            bool fixedLength = c.rule is Rule.Dream or Rule.Llada;
            return (q.All(k => k >= 0)).Label("non-negative")
                .And((q.Sum() == c.n).Label($"sum {q.Sum()} ≠ n {c.n}"))
                .And((fixedLength ? q.Length == c.steps : q.Length <= c.steps && q.All(k => k > 0)).Label($"length {q.Length}"))
                .Label($"{c.rule} n={c.n} steps={c.steps}")
                .Classify(c.n == 0, "n = 0").Classify(c.n < c.steps, "n < steps").Classify(c.n == c.steps, "n = steps")
                .Classify(true, c.rule.ToString());
        });

    [Fact]
    public void DreamFloorRuleWithStepsEqualToMasksWastesTheFirstStep()
    {
        var q = DreamTransferSchedule.Quotas(128, 128);
        Assert.Equal(0, q[0]);
        Assert.All(q[1..^1], k => Assert.Equal(1, k));
        Assert.Equal(2, q[^1]);
        var skipped = DreamTransferSchedule.Quotas(128, 128, skipZeroSteps: true);
        Assert.Equal(127, skipped.Length);
        Assert.Equal(q.Where(k => k > 0), skipped);
    }

    [Fact]
    public void DreamFloorRuleMatchesTheReferenceSamplerTrace()
    {
        var scalars = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture.GoldenDir("tiny"), "golden.json"))).RootElement.GetProperty("scalars");
        var expected = scalars.GetProperty("sample_unmasked_per_step").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(expected, DreamTransferSchedule.Quotas(16, 16));
    }

    [Fact]
    public void DreamQuotasArePerRow()
    {
        var rows = DreamTransferSchedule.Quotas([10, 3, 0], 4);
        Assert.Equal(DreamTransferSchedule.Quotas(10, 4), rows[0]);
        Assert.Equal(DreamTransferSchedule.Quotas(3, 4), rows[1]);
        Assert.Equal(new int[4], rows[2]);
        Assert.Equal(new float[] { 1f, 0.75025f, 0.5005f, 0.25075f, 0.001f }, DreamTransferSchedule.Timesteps(4), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void LladaEvenSplitPutsTheRemainderFirst()
    {
        Assert.Equal(new[] { 3, 3, 2, 2 }, LladaTransferSchedule.Quotas(10, 4));
        Assert.Equal(new[] { 1, 1, 0, 0 }, LladaTransferSchedule.Quotas(2, 4));
    }

    [Fact]
    public void AlphaRoundingIsBankersAndDropsEmptySteps()
    {
        Assert.Equal(new[] { 2, 3, 2, 3 }, AlphaTransferSchedule.Quotas(10, 4, OpenDllm.Schedules.LinearSchedule.Instance));   // 2.5 → 2, 2.67 → 3, 2.5 → 2
        Assert.Equal(2, AlphaTransferSchedule.RoundedQuota(10, 0.75, 1.0, OpenDllm.Schedules.LinearSchedule.Instance));
        Assert.Equal(new[] { 1 }, AlphaTransferSchedule.Quotas(1, 4, OpenDllm.Schedules.LinearSchedule.Instance));             // 0.25, 0.33, 0.5 → 0; then 1
    }

    private sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(float x) => 0;
    }
}
