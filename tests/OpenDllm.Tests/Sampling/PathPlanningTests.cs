using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// p2 as Open-dLLM computes it since the fix of issue #7 (PR #12), checked by hand on scripted logits: vocabulary
/// {0, 1, 2, 3} plus [MASK] = 4, canvas [0, M, M] (token 0 is the prompt), greedy. The remask counts are
/// ⌊2·(1 − κ)⌋ = 1, 1, 0, 0 for κ = 1/4, 2/4, 3/4, 1.
/// </summary>
public class PathPlanningTests
{
    const long M = 4;

    static ScriptedDenoiser Script() => new(M,
        ScriptedDenoiser.FromProbabilities(
        [
            [1, 0, 0, 0, 0],
            [0.05, 0.90, 0.03, 0.02, 0],       // position 1 takes 1 (0.9)
            [0.10, 0.10, 0.60, 0.20, 0],       // position 2: 0.6, the least sure: stays masked
        ]),
        ScriptedDenoiser.FromProbabilities(
        [
            [1, 0, 0, 0, 0],
            [0.05, 0.05, 0.10, 0.80, 0],       // a new sample 3 at 0.8 (the current token 1 has 0.05)
            [0.10, 0.10, 0.70, 0.10, 0],       // 0.7: the least sure again, stays masked
        ]),
        ScriptedDenoiser.FromProbabilities(
        [
            [1, 0, 0, 0, 0],
            [0.10, 0.10, 0.70, 0.10, 0],
            [0.05, 0.05, 0.10, 0.80, 0],       // nothing is re-masked now: position 2 takes 3
        ]));

    static SamplerOutput Run(ScriptedDenoiser denoiser, Canvas canvas, int steps = 4) =>
        new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.P2, Steps = steps, RecordTrajectory = true }).Sample(denoiser, canvas);

    static Canvas Canvas3() => new(tensor(new long[,] { { 0, M, M } }));

    [Fact]
    public void ADecodedPositionIsScoredByItsNewSampleAndKeepsItsToken()
    {
        // step 2: position 1 scores 0.8 (its new sample 3), so position 2 (0.7) is the one re-masked, and position 1 keeps
        // token 1. Scoring position 1 by its current token (0.05) would re-mask it instead.
        using var scope = NewDisposeScope();
        var result = Run(Script(), Canvas3());
        Assert.Equal([[0L, 1, 3]], SamplingFixtures.Rows(result.Sequences));
        var events = result.Trajectory!.Steps.Select(s => s.Events.Select(e => (e.Position, e.Token)).ToArray()).ToArray();
        Assert.Equal([(1, 1L)], events[0]);
        Assert.Empty(events[1]);
        Assert.Equal([(2, 3L)], events[2]);
    }

    [Fact]
    public void StopsAsSoonAsNothingIsMasked()
    {
        // after step 3 (no re-mask) the canvas holds no mask: the 4th step's forward is not spent
        using var scope = NewDisposeScope();
        var denoiser = Script();
        var result = Run(denoiser, Canvas3());
        Assert.Equal(3, result.Forwards);
        Assert.Equal(3, denoiser.Calls);
    }

    [Fact]
    public void FixedPositionsNeverChange()
    {
        // the prompt (0) and a padding slot whose id happens to equal [MASK] (excluded by the key-padding mask) are fixed,
        // although the model proposes 3 with certainty at both
        using var scope = NewDisposeScope();
        double[] three = [0, 0, 0, 1, 0];
        var denoiser = new ScriptedDenoiser(M, ScriptedDenoiser.FromProbabilities(
            [three, [0.05, 0.90, 0.03, 0.02, 0], [0.10, 0.10, 0.60, 0.20, 0], three]));
        var canvas = new Canvas(tensor(new long[,] { { 0, M, M, M } }), tensor(new[,] { { true, true, true, false } }));
        var result = Run(denoiser, canvas, steps: 2);
        Assert.Equal([[0L, 1, 2, M]], SamplingFixtures.Rows(result.Sequences));
        Assert.All(result.Trajectory!.Steps.SelectMany(s => s.Events), e => Assert.InRange(e.Position, 1, 2));
    }
}
