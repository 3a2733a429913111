using System.Text.Json;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// Greedy maskgit_plus on the golden tiny model gives exactly the reference sampler's tokens
/// (../shared/reference/mdlm_ref.py, run by data-scripts/make_sampler_fixture.py), for both of its schedules.
/// </summary>
public class MaskedDiffusionSamplerParityTests
{
    public sealed record Case(string Schedule, long[][] Prompt, int GenLen, int Steps, long[][] Output, int Forwards, int[] UnmaskedPerStep);

    public static IEnumerable<object[]> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture.PathOf("golden", "tiny", "sampler_reference.json")));
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        int i = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            yield return [i++, c.Deserialize<Case>(options)!];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyMaskGitPlusEqualsTheReference(int index, Case c)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.GoldenTiny();
        var canvas = Canvas.ForCompletion(c.Prompt.Select(p => (IReadOnlyList<long>)p).ToList(), c.GenLen, denoiser.MaskId, padId: 0);
        var quota = c.Schedule == "dream" ? QuotaRule.Dream : QuotaRule.Uniform;
        foreach (var skip in new[] { false, true })
        {
            var sampler = new MaskedDiffusionSampler(new() { Steps = c.Steps, Quota = quota, SkipEmptySteps = skip, RecordTrajectory = true });
            var result = sampler.Sample(denoiser, canvas);
            Assert.Equal(c.Output, SamplingFixtures.Rows(result.Sequences));
            int expectedForwards = skip ? c.UnmaskedPerStep.Count(n => n > 0) : c.Forwards;
            Assert.True(expectedForwards == result.Forwards, $"case {index} skip={skip}: forwards {result.Forwards} != {expectedForwards}");
            var perStep = result.Trajectory!.Steps.Select(s => s.Events.Count).ToArray();
            Assert.Equal(c.UnmaskedPerStep.Where(n => !skip || n > 0), perStep);
        }
    }
}
