namespace OpenDllm.Lora;

/// <summary>
/// Settings of a LoRA adapter set (Hu et al. 2021, <see href="https://arxiv.org/abs/2106.09685"/>; PEFT's <c>LoraConfig</c>).
/// Each targeted projection <c>y = x·Wᵀ + b</c> becomes <c>y = x·Wᵀ + b + (α/r)·B·A·dropout(x)</c> with A [r, in] and
/// B [out, r]; W and b stay frozen. SPEC.md has no LoRA section (§9 item 5 only lists fine-tuning as a user request), so
/// the choices follow PEFT: scaling α/r (no rsLoRA), B = 0 and A ~ kaiming-uniform(a = √5) at the start, dropout on the
/// adapter's input only, in training mode only. Defaults are dLLM's LoRA setting (r = 128, α = 256) on every projection
/// of the Qwen2 blocks.
/// </summary>
/// <param name="Rank">r, the inner dimension of B·A (≥ 1).</param>
/// <param name="Alpha">α; the update is scaled by α/r.</param>
/// <param name="Dropout">probability p ∈ [0, 1) of zeroing an input element of the adapter (training only; kept ones are scaled by 1/(1 − p)).</param>
/// <param name="TargetModules">which projections get an adapter; see <see cref="LoraTargets"/> for the matching rule.</param>
/// <param name="Seed">seeds A's initialisation and the dropout masks.</param>
public sealed record LoraOptions(
    int Rank = 128,
    double Alpha = 256,
    double Dropout = 0.05,
    IReadOnlyList<string>? TargetModules = null,
    long Seed = 0)
{
    /// <summary>The projections of a Qwen2 decoder block: attention and MLP.</summary>
    public static readonly IReadOnlyList<string> AllProjections =
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>The patterns in use (<see cref="AllProjections"/> when none were given).</summary>
    public IReadOnlyList<string> Targets => TargetModules is { Count: > 0 } t ? t : AllProjections;

    /// <summary>The factor on B·A: s = α / r (PEFT's <c>scaling</c> without rsLoRA).</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>Parses a comma list such as <c>q_proj,k_proj,v_proj</c> (spaces ignored, empty entries refused).</summary>
    public static IReadOnlyList<string> ParseTargets(string commaList)
    {
        var parts = commaList.Split(',').Select(p => p.Trim()).ToArray();
        if (parts.Length == 0 || parts.Any(p => p.Length == 0))
            throw new ArgumentException($"target modules '{commaList}': expected a comma list of names such as q_proj,v_proj");
        return parts;
    }

    /// <summary>Equal settings: same numbers and the same target list (element by element, in order).</summary>
    public bool Equals(LoraOptions? other) =>
        other is not null && Rank == other.Rank && Alpha.Equals(other.Alpha) && Dropout.Equals(other.Dropout)
        && Seed == other.Seed && Targets.SequenceEqual(other.Targets, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Rank, Alpha, Dropout, Seed, string.Join(",", Targets));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range; returns this.</summary>
    public LoraOptions Validate()
    {
        if (Rank < 1) throw new ArgumentException($"lora r = {Rank}: must be at least 1");
        if (!(Alpha > 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"lora alpha = {Alpha}: must be a positive number");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"lora dropout = {Dropout}: must be in [0, 1)");
        foreach (var t in Targets)
            if (string.IsNullOrWhiteSpace(t) || t != t.Trim())
                throw new ArgumentException($"lora target_modules entry '{t}': must be a module name without spaces");
        return this;
    }
}
