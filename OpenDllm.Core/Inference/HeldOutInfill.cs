using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Inference;

/// <summary>One line of held-out code to fill back in: the text before it, the line itself, the text after it.</summary>
public sealed record InfillTask(string Id, string Prefix, string Middle, string Suffix);

/// <summary>
/// Single-line infilling tasks cut from documents the model never trained on (the validation split), in the spirit of
/// HumanEval single-line infilling (SPEC §7.3): a non-blank code line (not a comment, 8–80 characters) is the middle;
/// up to <c>prefixChars</c> before and <c>suffixChars</c> after it are the context. Deterministic for a seed.
/// </summary>
public static class HeldOutInfill
{
    public static IReadOnlyList<InfillTask> Tasks(TokenSplit split, ITokenizer tokenizer, int count, long seed = 0,
                                                 int prefixChars = 160, int suffixChars = 64)
    {
        var rng = new Random((int)seed);
        var tasks = new List<InfillTask>();
        var order = Enumerable.Range(0, (int)split.DocumentCount).OrderBy(_ => rng.Next()).ToList();
        foreach (var doc in order)
        {
            if (tasks.Count >= count) break;
            var ids = split.ReadDocument(doc);
            var text = tokenizer.Decode(ids.Where(i => i != tokenizer.Special.Eos), skipSpecialTokens: true);
            var lines = text.Split('\n');
            var candidates = Enumerable.Range(1, Math.Max(0, lines.Length - 2)).Where(i => IsCodeLine(lines[i])).ToList();
            if (candidates.Count == 0) continue;
            int line = candidates[rng.Next(candidates.Count)];
            int start = lines.Take(line).Sum(l => l.Length + 1);
            string middle = lines[line];
            string before = text[..start], after = text[(start + middle.Length)..];
            tasks.Add(new InfillTask($"{split.Name}/{doc}/L{line}",
                before[Math.Max(0, before.Length - prefixChars)..], middle, after[..Math.Min(after.Length, suffixChars)]));
        }
        return tasks;
    }

    static bool IsCodeLine(string line)
    {
        var t = line.Trim();
        return t.Length is >= 8 and <= 80 && !t.StartsWith('#') && !t.StartsWith("\"\"\"") && !t.StartsWith("'''");
    }

    /// <summary>One task's outcome: the model's middle, whether it matches, and the sampler's output.</summary>
    public sealed record Scored(InfillTask Task, Generation Generation, bool Exact);

    /// <summary>
    /// Fills every task at its oracle length (the middle's token count) with the sampler <paramref name="samplerFor"/>
    /// builds for that length, and scores exact match.
    /// </summary>
    public static IReadOnlyList<Scored> Score(DiffusionPipeline pipeline, IEnumerable<InfillTask> tasks, Func<int, OpenDllm.Sampling.ISampler> samplerFor)
    {
        var results = new List<Scored>();
        foreach (var task in tasks)
        {
            int length = Math.Max(1, pipeline.TokenCount(task.Middle));
            var g = pipeline.Infill(task.Prefix, task.Suffix, length, samplerFor(length));
            results.Add(new Scored(task, g, ExactMatch(task.Middle, g.Text)));
        }
        return results;
    }

    /// <summary>Exact match after stripping surrounding whitespace (SantaCoder-FIM style, SPEC §7.4).</summary>
    public static bool ExactMatch(string expected, string actual) => expected.Trim() == actual.Trim();
}
