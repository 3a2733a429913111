using OpenDllm.Experiments;
using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Experiments;

/// <summary><see cref="RunComparison"/> on two real (tiny) runs over the same prepared data.</summary>
public sealed class RunComparisonTests : IDisposable
{
    readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    string Train(string name, long steps, params string[] overrides)
    {
        var output = Path.Combine(_fixture.Root, name);
        using var trainer = Trainer.Create(_fixture.Recipe(output, steps: steps, overrides: ["--train.eval_every=2", .. overrides]));
        trainer.Run();
        return output;
    }

    [Fact]
    public void ComparesCurvesThresholdAndInfillOnTheSameTasks()
    {
        var a = Train("a", 4);
        var b = Train("b", 6, "--train.lr=2.0e-3");
        var comparison = RunComparison.Compare([("a", a), ("b", b)], new ComparisonOptions(InfillTasks: 3));

        Assert.Equal("val_nelbo_bits", comparison.Metric);
        Assert.Equal("a", comparison.Baseline);
        var (ra, rb) = (comparison.Runs[0], comparison.Runs[1]);
        Assert.Equal(comparison.Threshold, ra.FinalBits);                     // default τ: the baseline's final bound
        Assert.Equal([0L, 2, 4], ra.Curve.Select(p => p.Step));
        Assert.Equal(6, rb.Steps);
        Assert.Equal(4.0, ra.StepsToThreshold!.Value, 9);
        Assert.Equal(1.0, ra.SpeedUp!.Value, 9);
        Assert.Equal(Convergence.SpeedUp(ra.StepsToThreshold, rb.StepsToThreshold), rb.SpeedUp);
        Assert.Equal(3, comparison.InfillTasks);
        foreach (var r in comparison.Runs)
        {
            Assert.InRange(r.InfillExact!.Value, 0, 1);
            Assert.InRange(r.InfillTokenAccuracy!.Value, 0, 1);
            Assert.NotNull(r.TokensPerSecond);
        }
        // the same checkpoints and tasks give the same infill numbers (greedy sampler, fixed task seed)
        var again = RunComparison.Compare([("a", a), ("b", b)], new ComparisonOptions(InfillTasks: 3));
        Assert.Equal(comparison.Runs.Select(r => r.InfillTokenAccuracy), again.Runs.Select(r => r.InfillTokenAccuracy));
        Assert.Contains("| b | 6 |", comparison.ToMarkdown());
        Assert.Equal(2, comparison.ToJson()["runs"]!.AsArray().Count);
    }

    [Fact]
    public void RefusesAnUnknownBaselineAndRunsOnOtherData()
    {
        var a = Train("a", 2);
        var e = Assert.Throws<ArgumentException>(() => RunComparison.Compare([("a", a)], new ComparisonOptions(Baseline: "z", InfillTasks: 0)));
        Assert.Contains("'z'", e.Message);
        var other = Train("other", 2, $"--data.prepare_dir={Path.Combine(_fixture.Root, "shards-2")}");
        var d = Assert.Throws<ArgumentException>(() => RunComparison.Compare([("a", a), ("other", other)], new ComparisonOptions(InfillTasks: 1)));
        Assert.Contains("same data.prepare_dir", d.Message);
        Assert.Equal(2, RunComparison.Compare([("a", a), ("other", other)], new ComparisonOptions(InfillTasks: 0)).Runs.Count);
    }
}
