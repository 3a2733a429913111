using OpenDllm.Models;

namespace OpenDllm.Training;

/// <summary>What <see cref="ParameterFreezing.Apply"/> froze.</summary>
/// <param name="Names">the frozen parameters' names, in model order.</param>
/// <param name="Count">their number of elements.</param>
/// <param name="TiedHits">one note per pattern that hit the tied embedding/LM-head matrix (freezing one freezes both).</param>
public sealed record FrozenParameters(IReadOnlyList<string> Names, long Count, IReadOnlyList<string> TiedHits)
{
    /// <summary>One line for the run log: how many tensors and weights, the names (the first few), and the tied-embedding notes.</summary>
    public string Describe()
    {
        const int shown = 6;
        var names = string.Join(", ", Names.Take(shown)) + (Names.Count > shown ? $", … ({Names.Count - shown} more)" : "");
        var tied = TiedHits.Count > 0 ? "; " + string.Join("; ", TiedHits) : "";
        return $"train.freeze_layers: froze {Names.Count} tensors ({Count:N0} weights), left out of the optimizer: {names}{tied}";
    }
}

/// <summary>
/// <c>train.freeze_layers</c> (Open-dLLM's <c>freeze_layers_by_patterns</c>, SPEC §3): a comma-separated list of
/// case-insensitive substrings of parameter names (<c>lm_head,embed_tokens</c> in the paper, <c>mlp</c> in Open-dLLM's
/// options). Every parameter whose Hugging Face name contains one of them stops requiring gradients; the trainer then
/// leaves it out of the optimizer, so it never changes (no weight decay either). Any method.
/// <para>With tied embeddings (<c>tie_word_embeddings</c>) the LM head is the embedding matrix: <c>lm_head</c> matches it
/// under the name <c>lm_head.weight</c> as well as <c>model.embed_tokens.weight</c>, and freezing either freezes both; the
/// result says so. A pattern that matches nothing is an error naming it.</para>
/// </summary>
public static class ParameterFreezing
{
    /// <summary>Freezes the parameters of <paramref name="model"/> that <paramref name="patterns"/> selects.</summary>
    /// <exception cref="ArgumentException">An empty pattern, or one that matches no parameter (named).</exception>
    public static FrozenParameters Apply(LanguageModel model, string patterns)
    {
        var list = Parse(patterns);
        var named = model.named_parameters().ToList();
        bool tied = model.TiedWeights is not null;
        var (embedding, tiedHead) = model.TiedWeights ?? ("", "");
        var frozen = new HashSet<string>(StringComparer.Ordinal);
        var tiedHits = new List<string>();
        foreach (var pattern in list)
        {
            bool hit = false;
            foreach (var (name, _) in named)
            {
                // the tied head matrix answers to both of its names
                bool matches = Contains(name, pattern) || (tied && name == embedding && Contains(tiedHead, pattern));
                if (!matches) continue;
                hit = true;
                frozen.Add(name);
                if (tied && name == embedding)
                    tiedHits.Add($"'{pattern}' hit the tied embedding/LM head ({embedding} = {tiedHead}): freezing one freezes both");
            }
            if (!hit)
                throw new ArgumentException($"train.freeze_layers: '{pattern}' matches no parameter (names look like "
                    + $"{string.Join(", ", named.Take(3).Select(n => n.name))}, …{(tied ? $"; the tied head is {tiedHead}" : "")})");
        }
        long count = 0;
        var names = new List<string>();
        foreach (var (name, p) in named)
        {
            if (!frozen.Contains(name)) continue;
            p.requires_grad = false;
            count += p.numel();
            names.Add(name);
        }
        return new FrozenParameters(names, count, tiedHits);
    }

    /// <summary>The patterns of a <c>freeze_layers</c> value, trimmed; an empty one is an error.</summary>
    public static IReadOnlyList<string> Parse(string patterns)
    {
        var list = patterns.Split(',').Select(p => p.Trim()).ToList();
        if (list.Count == 0 || list.Any(p => p.Length == 0))
            throw new ArgumentException($"train.freeze_layers = '{patterns}': give comma-separated name fragments such as lm_head,embed_tokens (no empty entries)");
        return list;
    }

    static bool Contains(string name, string pattern) => name.Contains(pattern, StringComparison.OrdinalIgnoreCase);
}
