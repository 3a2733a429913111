using System.Diagnostics;
using OpenDllm.Inference;
using OpenDllm.Methods.ArFim;
using OpenDllm.Sampling;

namespace OpenDllm.Experiments;

/// <summary>
/// How one run filled the held-out lines under one length protocol.
/// </summary>
/// <param name="Protocol">oracle, until_eos (AR+FIM at unknown length) or average_fixed (diffusion at unknown length: the
/// mean over <see cref="ComparisonOptions.FixedLengths"/>, Open-dCoder's protocol, SPEC §5.6).</param>
/// <param name="Sampler">The sampler's name (ar = the AR sampler with its KV cache).</param>
/// <param name="Exact">Share of middles reproduced exactly (after trimming whitespace).</param>
/// <param name="TokenAccuracy">Share of the true middles' tokens generated at their place.</param>
/// <param name="GeneratedTokens">Tokens the sampler wrote, prompts never counted: every masked slot of a diffusion canvas,
/// every token an AR model produced (the EOS that stopped it included).</param>
/// <param name="Seconds">Wall time of the sampler calls (prompt encoding and decoding included, model loading not).</param>
/// <param name="Middles">Number of middles filled (tasks × fixed lengths for average_fixed).</param>
public sealed record InfillScore(string Protocol, string Sampler, double Exact, double TokenAccuracy, long GeneratedTokens, double Seconds, int Middles)
{
    /// <summary>Generated tokens per second: <see cref="GeneratedTokens"/> / <see cref="Seconds"/>.</summary>
    public double TokensPerSecond => Seconds > 0 ? GeneratedTokens / Seconds : double.NaN;

    /// <summary>Milliseconds per middle: the latency a user waits for one fill.</summary>
    public double MillisecondsPerMiddle => Middles > 0 ? 1000 * Seconds / Middles : double.NaN;

    /// <summary>
    /// Fills <paramref name="tasks"/> with <paramref name="pipeline"/>: an AR+FIM model (<paramref name="objective"/>
    /// <c>ar_fim</c>) through <see cref="FimInfill"/> (KV cache), any other with <paramref name="sampler"/> on a
    /// prefix + masks + suffix canvas (one step per mask). Oracle length when <paramref name="fixedLengths"/> is null;
    /// otherwise unknown length: AR+FIM until EOS within <paramref name="maxMiddleTokens"/>, diffusion at each fixed length,
    /// averaged.
    /// </summary>
    public static InfillScore Measure(DiffusionPipeline pipeline, string objective, IReadOnlyList<InfillTask> tasks, string sampler,
                                      IReadOnlyList<int>? fixedLengths, int maxMiddleTokens)
    {
        bool fim = objective == ArFimMethod.MethodName;
        string protocol = fixedLengths is null ? "oracle" : fim ? "until_eos" : "average_fixed";
        var lengths = fim || fixedLengths is null ? [null] : fixedLengths.Select(n => (int?)n).ToList();
        long right = 0, total = 0, generated = 0;
        int exact = 0, middles = 0;
        var clock = new Stopwatch();
        foreach (var n in lengths)
            foreach (var task in tasks)
            {
                var truth = pipeline.Tokenizer.Encode(task.Middle);
                int length = n ?? (fim && fixedLengths is not null ? maxMiddleTokens : Math.Max(1, truth.Count));
                clock.Start();
                var g = fim
                    ? FimInfill.Infill(pipeline, task.Prefix, task.Suffix, length, untilEos: fixedLengths is not null)
                    : pipeline.Infill(task.Prefix, task.Suffix, length, SamplerFactory.Create(sampler, new SamplerSettings { Steps = length }));
                clock.Stop();
                generated += fim ? g.Output.Forwards : length;
                total += truth.Count;
                right += truth.Where((id, i) => i < g.Ids.Length && g.Ids[i] == id).Count();
                if (HeldOutInfill.ExactMatch(task.Middle, g.Text)) exact++;
                middles++;
            }
        return new InfillScore(protocol, fim ? "ar" : SamplerFactory.Canonical(sampler), exact / (double)middles,
                               total == 0 ? 0 : right / (double)total, generated, clock.Elapsed.TotalSeconds, middles);
    }
}
