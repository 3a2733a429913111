using OpenDllm.Sampling;

namespace OpenDllm.Inference;

/// <summary>
/// One length protocol's scores on held-out infill tasks (<see cref="HeldOutInfill"/>), averaged over tasks and, for a
/// protocol with several lengths, over those lengths.
/// </summary>
/// <param name="Protocol">e.g. <c>oracle</c>, <c>fixed:4,8,16,32,64</c>, <c>variable:4</c>.</param>
/// <param name="Runs">Infills scored (tasks × lengths).</param>
/// <param name="ExactMatch">Share of infills whose text equals the middle after trimming (<see cref="HeldOutInfill.ExactMatch"/>).</param>
/// <param name="TokenAccuracy">Mean <see cref="InfillLengthProtocols.TokenAccuracy"/>.</param>
/// <param name="MeanAbsLengthError">Mean |generated tokens − middle tokens|.</param>
/// <param name="Forwards">Denoiser forwards in all.</param>
public sealed record InfillProtocolScore(string Protocol, int Runs, double ExactMatch, double TokenAccuracy, double MeanAbsLengthError, long Forwards);

/// <summary>
/// The three ways of choosing the middle's length (SPEC §5.6, §5.7), scored the same way on the same tasks: the oracle
/// length (the true middle's token count, which real use never knows), fixed lengths averaged (the protocol Open-dCoder
/// reports, DreamOn's N ∈ {4, 8, 16, 32, 64}), and DreamOn's variable length (expand/delete from an initial length).
/// </summary>
public static class InfillLengthProtocols
{
    /// <summary>The fixed lengths of the averaged protocol (SPEC §5.6).</summary>
    public static readonly IReadOnlyList<int> DefaultFixedLengths = [4, 8, 16, 32, 64];

    /// <summary>
    /// Token accuracy of <paramref name="actual"/> against <paramref name="expected"/>, position by position from the start:
    /// #{i &lt; min(|e|, |a|) : e_i = a_i} / max(|e|, |a|) (1 when both are empty). A wrong length costs the missing or extra
    /// positions, so it compares fixed, oracle and variable lengths on one scale.
    /// </summary>
    public static double TokenAccuracy(IReadOnlyList<long> expected, IReadOnlyList<long> actual)
    {
        int longest = Math.Max(expected.Count, actual.Count);
        if (longest == 0) return 1;
        int same = 0;
        for (int i = 0; i < Math.Min(expected.Count, actual.Count); i++)
            if (expected[i] == actual[i]) same++;
        return (double)same / longest;
    }

    /// <summary>Oracle length: each task filled at its middle's token count with <paramref name="samplerFor"/>(length).</summary>
    public static InfillProtocolScore Oracle(DiffusionPipeline pipeline, IReadOnlyList<InfillTask> tasks, Func<int, ISampler> samplerFor) =>
        Score("oracle", pipeline, tasks.Select(t =>
        {
            int n = Math.Max(1, pipeline.TokenCount(t.Middle));
            return (t, pipeline.Infill(t.Prefix, t.Suffix, n, samplerFor(n)));
        }));

    /// <summary>Fixed lengths: each task filled at each of <paramref name="lengths"/>, all scored together (the average over lengths).</summary>
    public static InfillProtocolScore Fixed(DiffusionPipeline pipeline, IReadOnlyList<InfillTask> tasks, IReadOnlyList<int> lengths, Func<int, ISampler> samplerFor) =>
        Score("fixed:" + string.Join(",", lengths), pipeline,
              lengths.SelectMany(n => tasks.Select(t => (t, pipeline.Infill(t.Prefix, t.Suffix, n, samplerFor(n))))));

    /// <summary>Variable length: each task filled by <paramref name="sampler"/> from each of <paramref name="initialLengths"/> masks.</summary>
    public static InfillProtocolScore Variable(DiffusionPipeline pipeline, IReadOnlyList<InfillTask> tasks, IReadOnlyList<int> initialLengths, DreamOnSampler sampler) =>
        Score("variable:" + string.Join(",", initialLengths), pipeline,
              initialLengths.SelectMany(n => tasks.Select(t => (t, pipeline.Infill(t.Prefix, t.Suffix, n, sampler).Generation))));

    static InfillProtocolScore Score(string protocol, DiffusionPipeline pipeline, IEnumerable<(InfillTask Task, Generation Generation)> runs)
    {
        var tokenizer = pipeline.Tokenizer;
        var specials = tokenizer.Special.All().Select(s => (long)s.Id).ToHashSet();
        int count = 0, exact = 0;
        double accuracy = 0, lengthError = 0;
        long forwards = 0;
        foreach (var (task, g) in runs)
        {
            var expected = tokenizer.Encode(task.Middle).Select(i => (long)i).ToList();
            // text tokens only: <expand>/<delete> rows and specials a fixed-length fill may have committed decode to nothing
            var actual = g.Ids.Where(id => id >= 0 && id < tokenizer.VocabSize && !specials.Contains(id)).ToList();
            count++;
            if (HeldOutInfill.ExactMatch(task.Middle, g.Text)) exact++;
            accuracy += TokenAccuracy(expected, actual);
            lengthError += Math.Abs(actual.Count - expected.Count);
            forwards += g.Output.Forwards;
        }
        return count == 0 ? new InfillProtocolScore(protocol, 0, 0, 0, 0, 0)
            : new InfillProtocolScore(protocol, count, (double)exact / count, accuracy / count, lengthError / count, forwards);
    }
}
