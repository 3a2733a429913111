using OpenDllm.Inference;

namespace OpenDllm.Evaluation;

/// <summary>The prompt or infill context after fitting it to the model's window, and whether anything was cut.</summary>
public sealed record FittedContext(string Prefix, string Suffix, bool Truncated);

/// <summary>
/// Fits a benchmark prompt to the positions a model has, the way the anchors' harnesses do (SPEC §7.2): a completion
/// prompt keeps its last tokens; an infill context keeps the tokens next to the gap, cutting the prefix on the left and
/// the suffix on the right, each side getting half of what remains after the gap (a side that needs less leaves the
/// rest to the other). Decision (SPEC is silent on infill truncation): cut instead of failing the whole run, and count
/// every cut in <c>results.json</c> so a truncated score is never mistaken for a full-context one.
/// </summary>
public static class ContextWindow
{
    /// <summary>The positions a run may use: the smaller of the requested maximum and the model's <c>max_position_embeddings</c>.</summary>
    public static int Budget(DiffusionPipeline pipeline, int maxLength) =>
        (int)Math.Min(maxLength, pipeline.Model.MaxPositions);

    /// <summary>Keeps the last tokens of <paramref name="prompt"/> so that prompt + <paramref name="newTokens"/> ≤ <paramref name="budget"/>.</summary>
    public static FittedContext FitCompletion(DiffusionPipeline pipeline, string prompt, int newTokens, int budget)
    {
        int room = Room(budget, newTokens);
        var ids = pipeline.Tokenizer.Encode(prompt);
        if (ids.Count <= room) return new FittedContext(prompt, "", false);
        return new FittedContext(KeepLast(pipeline, ids, room), "", true);
    }

    /// <summary>Cuts <paramref name="prefix"/> on the left and <paramref name="suffix"/> on the right so prefix + gap + suffix ≤ <paramref name="budget"/>.</summary>
    public static FittedContext FitInfill(DiffusionPipeline pipeline, string prefix, string suffix, int gap, int budget)
    {
        int room = Room(budget, gap);
        var p = pipeline.Tokenizer.Encode(prefix);
        var s = pipeline.Tokenizer.Encode(suffix);
        if (Math.Max(1, p.Count) + s.Count <= room) return new FittedContext(prefix, suffix, false);
        int half = room / 2;
        int keepPrefix = Math.Max(1, p.Count <= half ? p.Count : Math.Max(half, room - s.Count));
        int keepSuffix = Math.Min(s.Count, room - keepPrefix);
        return new FittedContext(KeepLast(pipeline, p, keepPrefix), KeepFirst(pipeline, s, keepSuffix), true);
    }

    static int Room(int budget, int gap)
    {
        if (gap >= budget)
            throw new ArgumentOutOfRangeException(
                $"{gap} tokens to generate leave no room for context in the model's {budget} positions; lower the length or use a model with more positions",
                (Exception?)null);
        return budget - gap;
    }

    /// <summary>The text of the last <paramref name="keep"/> tokens; re-encoding a cut text can merge tokens differently, so it trims until it fits.</summary>
    static string KeepLast(DiffusionPipeline pipeline, IReadOnlyList<int> ids, int keep)
    {
        for (int k = keep; k > 0; k--)
        {
            var text = pipeline.Tokenizer.Decode(ids.Skip(ids.Count - k));
            if (pipeline.Tokenizer.Encode(text).Count <= keep) return text;
        }
        return "";
    }

    static string KeepFirst(DiffusionPipeline pipeline, IReadOnlyList<int> ids, int keep)
    {
        for (int k = keep; k > 0; k--)
        {
            var text = pipeline.Tokenizer.Decode(ids.Take(k));
            if (pipeline.Tokenizer.Encode(text).Count <= keep) return text;
        }
        return "";
    }
}
