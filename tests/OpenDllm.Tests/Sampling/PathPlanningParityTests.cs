using System.Text.Json;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// Greedy p2 on the golden tiny model gives exactly the tokens, the number of forwards and the per-step re-mask / fill
/// counts of an independent PyTorch transcription of Open-dLLM's fixed p2 loop (data-scripts/make_p2_fixture.py).
/// </summary>
public class PathPlanningParityTests
{
    public sealed record StepTrace(int Remasked, int Filled, long[] RemaskCount);

    public sealed record Case(long[][] Prompt, int GenLen, int Steps, long[][] Output, int Forwards, StepTrace[] Trace);

    public static IEnumerable<object[]> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture.PathOf("golden", "tiny", "p2_reference.json")));
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        int i = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            yield return [i++, c.Deserialize<Case>(options)!];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyP2EqualsTheUpstreamLoop(int index, Case c)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.GoldenTiny();
        var canvas = Canvas.ForCompletion(c.Prompt.Select(p => (IReadOnlyList<long>)p).ToList(), c.GenLen, denoiser.MaskId, padId: 0);
        var sampler = new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.P2, Steps = c.Steps, RecordTrajectory = true });
        var result = sampler.Sample(denoiser, canvas);
        Assert.Equal(c.Output, SamplingFixtures.Rows(result.Sequences));
        Assert.True(c.Forwards == result.Forwards, $"case {index}: forwards {result.Forwards} != {c.Forwards}");
        var steps = result.Trajectory!.Steps;
        Assert.Equal(c.Trace.Select(t => (t.Remasked, t.Filled)),
                     steps.Select(s => (s.Events.Count(e => e.Remasked), s.Events.Count(e => !e.Remasked))));
    }
}
