using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

public class AutoregressiveSamplerTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.9)]
    public void CachedEqualsUncached(double temperature)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[5, 6, 7, 8], [9, 10]], 10, denoiser.MaskId, padId: 97);
        var cached = new AutoregressiveSampler(new() { Temperature = temperature, Seed = 3 }).Sample(denoiser, canvas);
        var plain = new AutoregressiveSampler(new() { Temperature = temperature, Seed = 3, UseCache = false }).Sample(denoiser, canvas);
        Assert.True(Fixture.Same(cached.Sequences, plain.Sequences));
        Assert.Equal(10, cached.Forwards);
    }

    [Fact]
    public void LeftPaddedRowEqualsItsUnpaddedRun()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var batch = new AutoregressiveSampler().Sample(denoiser, Canvas.ForCompletion([[5, 6, 7, 8], [9, 10]], 6, denoiser.MaskId, 97));
        var alone = new AutoregressiveSampler().Sample(denoiser, Canvas.ForCompletion([[9, 10]], 6, denoiser.MaskId, 97));
        Assert.Equal(SamplingFixtures.Rows(alone.Sequences)[0], SamplingFixtures.Rows(batch.Sequences)[1].Skip(2));
    }

    [Fact]
    public void GreedyEqualsArgmaxOfTheFullCausalForward()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var result = new AutoregressiveSampler().Sample(denoiser, Canvas.ForCompletion([[1, 2, 3]], 5, denoiser.MaskId, 97));
        var ids = result.Sequences;
        var logits = denoiser.Forward(new DenoiserInput(ids, OpenDllm.Attention.AttentionPolicy.Causal)).Logits;
        logits.select(-1, denoiser.MaskId).fill_(double.NegativeInfinity);
        var predicted = logits.argmax(-1);                                   // position j predicts j+1
        Assert.True(Fixture.Same(ids.narrow(1, 3, 5), predicted.narrow(1, 2, 5)));
    }
}

public class AutoregressiveTrajectoryTests
{
    [Fact]
    public void RecordedTrajectoryReplaysToTheOutputWithOneTokenPerStep()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var result = new AutoregressiveSampler(new() { RecordTrajectory = true })
            .Sample(denoiser, Canvas.ForCompletion([[5, 6, 7], [8, 9]], 4, denoiser.MaskId, 97));
        var t = result.Trajectory!;
        Assert.Equal(4, t.Steps.Count);
        Assert.All(t.Steps, s => Assert.Equal(2, s.Events.Count));                    // one token per row per step
        Assert.All(t.Steps.SelectMany(s => s.Events), e => Assert.InRange(e.Confidence, 0f, 1f));
        Assert.Equal(SamplingFixtures.Rows(result.Sequences), t.CanvasAfter(4));
    }
}

public class AutoregressiveStopAtEosTests
{
    [Fact]
    public void StopsWhenEveryRowHasEndedWithTheSameTokensAndFewerForwards()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[5, 6, 7, 8]], 10, denoiser.MaskId, padId: 97);
        var free = SamplingFixtures.Rows(new AutoregressiveSampler().Sample(denoiser, canvas).Sequences)[0];
        long eos = free[4 + 2];                                                        // the third generated token plays EOS
        int first = Array.IndexOf(free, eos, 4);                                       // where it first appears
        var running = new AutoregressiveSampler(new() { EosId = eos }).Sample(denoiser, canvas);
        var stopped = new AutoregressiveSampler(new() { EosId = eos, StopAtEos = true }).Sample(denoiser, canvas);
        Assert.True(Fixture.Same(running.Sequences, stopped.Sequences));
        Assert.Equal(10, running.Forwards);
        Assert.Equal(first - 4 + 1, stopped.Forwards);
        Assert.All(SamplingFixtures.Rows(stopped.Sequences)[0].Skip(first), t => Assert.Equal(eos, t));
    }
}
