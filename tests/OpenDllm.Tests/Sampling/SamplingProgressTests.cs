using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>The per-step callback behind `--live`: every step is reported once with the whole canvas, and watching changes nothing.</summary>
public sealed class SamplingProgressTests
{
    const long M = 4;

    static ScriptedDenoiser Denoiser()
    {
        double[] p = [0.1, 0.2, 0.3, 0.4, 0];
        double[] q = [0.7, 0.1, 0.1, 0.1, 0];
        return new ScriptedDenoiser(M, ScriptedDenoiser.FromProbabilities([p, q, p, q, p, q]));
    }

    static SamplerOutput Sample(bool record) =>
        new MaskedDiffusionSampler(new() { Steps = 4, RecordTrajectory = record })
            .Sample(Denoiser(), Canvas.ForCompletion([[1L, 2L]], 4, M, 0));

    [Fact]
    public void EveryStepIsReportedWithTheWholeCanvas()
    {
        using var scope = NewDisposeScope();
        var views = new List<SamplingStepView>();
        SamplerOutput watched;
        using (SamplingProgress.Watch(views.Add)) watched = Sample(record: true);

        int steps = watched.Trajectory!.Steps.Count;
        Assert.True(steps >= 2, $"{steps} steps");
        Assert.Equal(Enumerable.Range(0, steps + 1), views.Select(v => v.Step));
        Assert.Equal([1L, 2, M, M, M, M], views[0].Canvas[0]);
        Assert.Empty(views[0].Events);
        Assert.Equal(SamplingFixtures.Rows(watched.Sequences)[0], views[^1].Canvas[0]);
        Assert.Equal([2, 3, 4, 5], views.SelectMany(v => v.Events).Select(e => e.Position).Order());
        for (int s = 1; s < views.Count; s++)                                   // each view = the previous plus its events
        {
            var expected = (long[])views[s - 1].Canvas[0].Clone();
            foreach (var e in views[s].Events) expected[e.Position] = e.Token;
            Assert.Equal(expected, views[s].Canvas[0]);
            Assert.Equal(watched.Trajectory!.CanvasAfter(s)[0], views[s].Canvas[0]);
        }

        views.Clear();
        var unwatched = Sample(record: true);                                   // after Dispose nothing is reported
        Assert.Empty(views);
        Assert.Equal(SamplingFixtures.Rows(unwatched.Sequences), SamplingFixtures.Rows(watched.Sequences));
        Assert.Equal(SamplingFixtures.Rows(Sample(record: false).Sequences), SamplingFixtures.Rows(watched.Sequences));
    }

    [Fact]
    public async Task OtherFlowsAreNotObserved()
    {
        static void SampleScoped() { using var scope = NewDisposeScope(); Sample(record: true); }
        int seen = 0;
        using var watch = SamplingProgress.Watch(_ => Interlocked.Increment(ref seen));
        Task other;
        using (ExecutionContext.SuppressFlow())                                 // an unrelated flow, like a test running beside this one
            other = Task.Run(SampleScoped);
        await other;
        Assert.Equal(0, seen);
        int nested = 0;
        using (SamplingProgress.Watch(_ => nested++)) SampleScoped();            // a nested watcher replaces ours until disposed
        Assert.Equal(0, seen);
        Assert.True(nested >= 3, $"{nested} views");
        SampleScoped();
        Assert.Equal(nested, seen);
    }
}
