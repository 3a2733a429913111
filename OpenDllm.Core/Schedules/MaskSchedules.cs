namespace OpenDllm.Schedules;

/// <summary>
/// The registry of named absorbing-state schedules (SPEC §1.2) and helpers that hold for any <see cref="IMaskSchedule"/>.
/// </summary>
public static class MaskSchedules
{
    /// <summary>The names <see cref="Create"/> accepts, in registry order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["linear", "cosine", "loglinear", "square", "square_root", "log"];

    /// <summary>
    /// The schedule registered under <paramref name="name"/> (case-insensitive). Defaults: loglinear ε = 1e-3,
    /// cosine without dllm's +1e-6 (see <see cref="CosineSchedule"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the valid names.</exception>
    public static IMaskSchedule Create(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "linear" => LinearSchedule.Instance,
        "cosine" => new CosineSchedule(),
        "loglinear" => new LogLinearSchedule(),
        "square" => PolynomialSchedule.Square,
        "square_root" => PolynomialSchedule.SquareRoot,
        "log" => LogSchedule.Instance,
        _ => throw new ArgumentException(
            $"Unknown mask schedule '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>Every registered schedule, one instance per name.</summary>
    public static IReadOnlyList<IMaskSchedule> All => [.. Names.Select(Create)];

    /// <summary>
    /// P(stay masked) for a token still masked at t when stepping back to s ≤ t (SPEC §1.1):
    /// (1 − α(s)) / (1 − α(t)) = 1 − <see cref="IMaskSchedule.ReverseUnmaskProbability"/>; s/t for the linear schedule
    /// (dllm's <c>reverse_mask_prob</c>).
    /// </summary>
    public static double ReverseStayMaskedProbability(this IMaskSchedule schedule, double s, double t) =>
        1.0 - schedule.ReverseUnmaskProbability(s, t);
}
