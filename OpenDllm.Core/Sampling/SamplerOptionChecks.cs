using System.Globalization;

namespace OpenDllm.Sampling;

/// <summary>
/// The range checks of sampler options, shared by every options record's <c>Validate</c>. Each throws an
/// <see cref="ArgumentException"/> whose one-line message names the option and the value it got, so NaN and ±∞ (which
/// pass a plain <c>&lt; 0</c> test) are refused instead of silently changing the numbers. The message carries no
/// "(Parameter …)" suffix: it is the line the CLI prints.
/// </summary>
public static class SamplerOptionChecks
{
    /// <summary>temperature: finite and ≥ 0 (0 = greedy).</summary>
    public static void Temperature(double value) => FiniteAtLeastZero("temperature", value);

    /// <summary>alg_temp: finite and ≥ 0 (0 = top-k positions).</summary>
    public static void AlgTemp(double value) => FiniteAtLeastZero("alg_temp", value);

    /// <summary>top_p: null or in (0, 1].</summary>
    public static void TopP(double? value)
    {
        if (value is { } p && !(p > 0 && p <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {Show(p)}");
    }

    /// <summary>top_k: null or ≥ 0 (0 = off, as upstream).</summary>
    public static void TopK(int? value)
    {
        if (value is { } k && k < 0) throw new ArgumentException($"top_k must be ≥ 0 (0 = off), got {k}");
    }

    /// <summary>A count option (steps, block length): ≥ 1.</summary>
    public static void Positive(string name, int value)
    {
        if (value < 1) throw new ArgumentException($"{name} must be ≥ 1, got {value}");
    }

    /// <summary>threshold: in (0, 1].</summary>
    public static void Threshold(double value)
    {
        if (!(value > 0 && value <= 1)) throw new ArgumentException($"threshold must be in (0, 1], got {Show(value)}");
    }

    /// <summary>factor: null or finite and &gt; 0.</summary>
    public static void Factor(double? value)
    {
        if (value is { } f && !(f > 0 && double.IsFinite(f))) throw new ArgumentException($"factor must be a finite number > 0, got {Show(f)}");
    }

    /// <summary>A double as the message shows it: NaN, Infinity, -Infinity or the round-trip number.</summary>
    public static string Show(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    static void FiniteAtLeastZero(string name, double value)
    {
        if (!(double.IsFinite(value) && value >= 0)) throw new ArgumentException($"{name} must be a finite number ≥ 0, got {Show(value)}");
    }
}
