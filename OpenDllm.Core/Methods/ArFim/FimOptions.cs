namespace OpenDllm.Methods.ArFim;

/// <summary>
/// The options of AR+FIM training (<c>train.fim</c> in a recipe, only with <c>train.objective: ar_fim</c>). Bound strictly
/// (unknown keys fail) and checked by <see cref="Validate"/> with the dotted key named.
/// </summary>
public sealed record FimOptions
{
    /// <summary>The share of packed document pieces turned into PSM form (<see cref="FimTransform.ApplyInPlace"/>); the FIM
    /// paper's 0.5 is the default (it found no loss of left-to-right ability up to 0.9). 0 trains plain AR.</summary>
    public double Rate { get; init; } = 0.5;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad key (prefixed by <paramref name="key"/>).</summary>
    public FimOptions Validate(string source = "recipe", string key = "train.fim")
    {
        if (!(Rate is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException($"{key}.rate", Rate, $"{source}: {key}.rate = {Rate} is out of range: in [0, 1] (the FIM paper uses 0.5)");
        return this;
    }
}
