using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Experiments;

namespace OpenDllm.Tests.Experiments;

public sealed class ConvergenceTests
{
    static readonly BoundPoint[] Curve = [new(0, 8.0), new(100, 6.0), new(200, 5.0), new(300, 4.5)];

    [Theory]
    [InlineData(8.0, 0.0)]          // already there at the first evaluation
    [InlineData(7.0, 50.0)]         // halfway between 8.0 and 6.0
    [InlineData(5.0, 200.0)]        // exactly at an evaluation
    [InlineData(4.75, 250.0)]
    public void StepsInterpolateBetweenTheBracketingEvaluations(double threshold, double expected) =>
        Assert.Equal(expected, Convergence.StepsToReach(Curve, threshold)!.Value, 9);

    [Fact]
    public void ACurveThatNeverReachesTheThresholdHasNoSteps()
    {
        Assert.Null(Convergence.StepsToReach(Curve, 4.0));
        Assert.Null(Convergence.SpeedUp(300, null));
        Assert.Null(Convergence.SpeedUp(null, 100));
    }

    [Fact]
    public void UnorderedPointsAreSortedAndTheFirstCrossingCounts()
    {
        BoundPoint[] bumpy = [new(200, 4.0), new(0, 8.0), new(100, 5.0), new(300, 6.0)];
        Assert.Equal(100.0, Convergence.StepsToReach(bumpy, 5.0)!.Value, 9);
        Assert.Equal(3.0, Convergence.SpeedUp(300, 100)!.Value, 9);
    }

    [Fact]
    public void StepsToReachLieBetweenTheBracketingEvaluations() =>
        Prop.ForAll(Gen.Choose(1, 20).SelectMany(n => Gen.ListOf(Gen.Choose(0, 1000), n)).ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (bits, t) =>
        {
            var curve = bits.Select((b, i) => new BoundPoint(i * 10, b / 100.0)).ToList();
            double tau = t / 100.0;
            var s = Convergence.StepsToReach(curve, tau);
            int k = curve.FindIndex(p => p.Bits <= tau);
            return k < 0 ? s is null : s is { } x && x <= curve[k].Step && (k == 0 || x >= curve[k - 1].Step);
        }).QuickCheckThrowOnFailure();
}
