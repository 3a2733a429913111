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
/// <param name="Forwards">Denoiser forwards in all, counted per row: a row decoded in a batch counts the forwards it took
/// part in (as many as it takes alone), so this does not depend on the batch size.</param>
/// <param name="GeneratedTokens">Positions generated: the middle's length per infill (variable length: the final middle's),
/// prefix and suffix tokens not counted.</param>
/// <param name="GenerationSeconds">Wall-clock seconds the protocol took (generation and the cheap scoring).</param>
/// <param name="BatchSize">Infills decoded together (variable length only; oracle and fixed run one at a time).</param>
public sealed record InfillProtocolScore(string Protocol, int Runs, double ExactMatch, double TokenAccuracy, double MeanAbsLengthError, long Forwards,
                                         long GeneratedTokens = 0, double GenerationSeconds = 0, int BatchSize = 1)
{
    /// <summary>Generated tokens per second (<see cref="GeneratedTokens"/> / <see cref="GenerationSeconds"/>).</summary>
    public double GeneratedTokensPerSecond => GenerationSeconds > 0 ? GeneratedTokens / GenerationSeconds : 0;
}

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
            return (t, pipeline.Infill(t.Prefix, t.Suffix, n, samplerFor(n)), n);
        }));

    /// <summary>Fixed lengths: each task filled at each of <paramref name="lengths"/>, all scored together (the average over lengths).</summary>
    public static InfillProtocolScore Fixed(DiffusionPipeline pipeline, IReadOnlyList<InfillTask> tasks, IReadOnlyList<int> lengths, Func<int, ISampler> samplerFor) =>
        Score("fixed:" + string.Join(",", lengths), pipeline,
              lengths.SelectMany(n => tasks.Select(t => (t, pipeline.Infill(t.Prefix, t.Suffix, n, samplerFor(n)), n))));

    /// <summary>
    /// Variable length: each task filled by <paramref name="sampler"/> from each of <paramref name="initialLengths"/> masks,
    /// <paramref name="batchSize"/> tasks at a time as one ragged batch (<see cref="VariableInfill.InfillBatch"/>; tasks of
    /// similar prefix + suffix length batched together). Each middle equals its batch-1 middle up to float rounding, so the
    /// scores do not depend on the batch size.
    /// </summary>
    public static InfillProtocolScore Variable(DiffusionPipeline pipeline, IReadOnlyList<InfillTask> tasks, IReadOnlyList<int> initialLengths,
                                               DreamOnSampler sampler, int batchSize = 1)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batch size {batchSize}: must be at least 1");
        var order = Enumerable.Range(0, tasks.Count).OrderBy(i => pipeline.TokenCount(tasks[i].Prefix) + pipeline.TokenCount(tasks[i].Suffix)).ToArray();
        IEnumerable<(InfillTask, Generation, int)> Runs(int n)
        {
            var filled = new (InfillTask, Generation, int)[tasks.Count];
            foreach (var chunk in order.Chunk(batchSize))
            {
                var results = pipeline.InfillBatch(chunk.Select(i => new VariableInfillRequest(tasks[i].Prefix, tasks[i].Suffix, n)).ToList(), sampler);
                for (int k = 0; k < chunk.Length; k++) filled[chunk[k]] = (tasks[chunk[k]], results[k].Generation, results[k].Detail.MiddleLength);
            }
            return filled;
        }
        return Score("variable:" + string.Join(",", initialLengths), pipeline, initialLengths.SelectMany(Runs)) with { BatchSize = batchSize };
    }

    static InfillProtocolScore Score(string protocol, DiffusionPipeline pipeline, IEnumerable<(InfillTask Task, Generation Generation, int Generated)> runs)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tokenizer = pipeline.Tokenizer;
        var specials = tokenizer.Special.All().Select(s => (long)s.Id).ToHashSet();
        int count = 0, exact = 0;
        double accuracy = 0, lengthError = 0;
        long forwards = 0, generated = 0;
        foreach (var (task, g, positions) in runs)
        {
            var expected = tokenizer.Encode(task.Middle).Select(i => (long)i).ToList();
            // text tokens only: <expand>/<delete> rows and specials a fixed-length fill may have committed decode to nothing
            var actual = g.Ids.Where(id => id >= 0 && id < tokenizer.VocabSize && !specials.Contains(id)).ToList();
            count++;
            if (HeldOutInfill.ExactMatch(task.Middle, g.Text)) exact++;
            accuracy += TokenAccuracy(expected, actual);
            lengthError += Math.Abs(actual.Count - expected.Count);
            forwards += g.Output.Forwards;
            generated += positions;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return count == 0 ? new InfillProtocolScore(protocol, 0, 0, 0, 0, 0, 0, seconds)
            : new InfillProtocolScore(protocol, count, (double)exact / count, accuracy / count, lengthError / count, forwards, generated, seconds);
    }
}
