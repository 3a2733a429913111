using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling.Transfer;

namespace OpenDllm.Tests.Transfer;

/// <summary>p2's re-mask count ⌊#free·(1 − κ_i)⌋ in float32, as upstream's <c>(n.float() * (1 - kappa)).long()</c> (SPEC §5.2).</summary>
public class PathPlanningScheduleTests
{
    /// <summary>Expected values computed with torch 1.13: <c>(torch.tensor([free]).float() * (1 - (i+1)/steps)).long()</c>.
    /// The first six rows are where float64 arithmetic gives one less.</summary>
    [Theory]
    [InlineData(10, 7, 10, 2)]
    [InlineData(10, 8, 10, 1)]
    [InlineData(20, 8, 10, 2)]
    [InlineData(12, 4, 12, 7)]
    [InlineData(100, 10, 20, 45)]
    [InlineData(30, 3, 5, 6)]
    [InlineData(16, 0, 4, 12)]
    [InlineData(16, 3, 4, 0)]
    [InlineData(2, 1, 4, 1)]
    [InlineData(2, 2, 4, 0)]
    public void MatchesTorchsFloat32Product(long free, int step, int steps, long expected) =>
        Assert.Equal(expected, PathPlanningSchedule.RemaskCount(free, step, steps));

    [Property(MaxTest = 200)]
    public Property CountsShrinkToZeroAndNeverExceedTheFreePositions() =>
        Prop.ForAll(Gen.Choose(0, 5000).ToArbitrary(), Gen.Choose(1, 300).ToArbitrary(), (free, steps) =>
        {
            var counts = Enumerable.Range(0, steps).Select(i => PathPlanningSchedule.RemaskCount(free, i, steps)).ToArray();
            return (counts[^1] == 0).Label("the last step re-masks nothing")
                .And(counts.All(c => c >= 0 && c <= free).Label("0 ≤ n_remask ≤ #free"))
                .And(counts.Zip(counts.Skip(1)).All(p => p.First >= p.Second).Label("non-increasing"));
        });

    [Fact]
    public void RejectsStepsOutsideTheSchedule()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PathPlanningSchedule.RemaskCount(4, 4, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => PathPlanningSchedule.RemaskCount(4, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PathPlanningSchedule.RemaskCount(-1, 0, 2));
    }
}
