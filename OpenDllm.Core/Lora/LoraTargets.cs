using OpenDllm.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>One projection an adapter can sit on: its dotted path in the model (<c>model.layers.0.self_attn.q_proj</c>).</summary>
public sealed record LoraTarget(string Path, IAdapterHost Host, string Name, Linear Layer)
{
    /// <summary>Input features (columns of W).</summary>
    public long InFeatures => Layer.weight!.shape[1];

    /// <summary>Output features (rows of W).</summary>
    public long OutFeatures => Layer.weight!.shape[0];
}

/// <summary>
/// Which projections a list of target patterns selects, with PEFT's rule for a list of names: a projection at dotted path
/// P is selected by pattern t when P = t or P ends with "." + t. So <c>q_proj</c> selects every layer's query projection,
/// <c>self_attn.q_proj</c> the same, and <c>model.layers.0.self_attn.q_proj</c> only layer 0's. The single pattern
/// <c>all-linear</c> selects every projection of the blocks (PEFT's shorthand; the LM head is never adapted). Regular
/// expressions (PEFT's string form) are not supported. A pattern that selects nothing is an error, so a typo is never a
/// silently smaller adapter.
/// </summary>
public static class LoraTargets
{
    /// <summary>PEFT's shorthand for every linear layer but the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>Every adaptable projection of <paramref name="model"/>, in module order.</summary>
    public static IReadOnlyList<LoraTarget> Enumerate(nn.Module model)
    {
        var targets = new List<LoraTarget>();
        if (model is IAdapterHost self)                                 // named_modules() lists children only
            foreach (var (name, layer) in self.Projections) targets.Add(new LoraTarget(name, self, name, layer));
        foreach (var (path, module) in model.named_modules())
            if (module is IAdapterHost host)
                foreach (var (name, layer) in host.Projections)
                    targets.Add(new LoraTarget(path.Length == 0 ? name : $"{path}.{name}", host, name, layer));
        return targets;
    }

    /// <summary>Whether <paramref name="path"/> is selected by <paramref name="pattern"/> (equal, or a dotted suffix).</summary>
    public static bool Matches(string path, string pattern) =>
        pattern == AllLinear || path == pattern || path.EndsWith("." + pattern, StringComparison.Ordinal);

    /// <summary>
    /// The projections of <paramref name="model"/> selected by <paramref name="patterns"/>; throws
    /// <see cref="ArgumentException"/> naming a pattern that selects nothing, and the names that exist.
    /// </summary>
    public static IReadOnlyList<LoraTarget> Select(nn.Module model, IReadOnlyList<string> patterns)
    {
        var all = Enumerate(model);
        if (patterns.Contains(AllLinear) && patterns.Count > 1)
            throw new ArgumentException($"target_modules: '{AllLinear}' must be the only entry, got {string.Join(",", patterns)}");
        foreach (var pattern in patterns)
            if (!all.Any(t => Matches(t.Path, pattern)))
                throw new ArgumentException($"target_modules entry '{pattern}' matches no projection of the model "
                    + $"(adaptable: {string.Join(",", all.Select(t => t.Name).Distinct())}, or dotted paths such as {all.FirstOrDefault()?.Path})");
        return all.Where(t => patterns.Any(p => Matches(t.Path, p))).ToList();
    }
}
