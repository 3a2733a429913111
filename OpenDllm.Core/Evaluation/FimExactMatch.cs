namespace OpenDllm.Evaluation;

/// <summary>
/// Exact-match scoring of single-line fill-in-the-middle (SPEC §7.4; the rule of Open-dLLM's and DreamOn's
/// <c>compute_em_santa.py</c>, taken from Qwen2.5-Coder's fim-bench).
/// </summary>
public static class FimExactMatch
{
    /// <summary>
    /// The line of a completion that is compared: when the completion starts with <c>"\n"</c> or <c>" \n"</c> the
    /// model began with a line break, so the second line (index 1) is taken; otherwise the first (index 0).
    /// <c>line = completion.split("\n")[1 if completion.startswith(("\n", " \n")) else 0]</c>.
    /// </summary>
    public static string SelectLine(string completion)
    {
        var lines = completion.Split('\n');
        bool leadingBreak = completion.StartsWith('\n') || completion.StartsWith(" \n", StringComparison.Ordinal);
        return lines[leadingBreak ? 1 : 0];
    }

    /// <summary>
    /// True when the selected line equals the target with surrounding whitespace removed on both sides:
    /// <c>SelectLine(completion).strip() == target.strip()</c>, with <see cref="PythonStrip"/> as Python's <c>strip()</c>.
    /// </summary>
    public static bool IsMatch(string completion, string target) =>
        string.Equals(PythonStrip(SelectLine(completion)), PythonStrip(target), StringComparison.Ordinal);

    /// <summary>
    /// Python's argument-less <c>str.strip()</c>: removes the characters <c>str.isspace()</c> accepts from both ends,
    /// which are .NET's <see cref="char.IsWhiteSpace(char)"/> plus the separators U+001C–U+001F.
    /// </summary>
    public static string PythonStrip(string text)
    {
        static bool Space(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';
        int start = 0, end = text.Length;
        while (start < end && Space(text[start])) start++;
        while (end > start && Space(text[end - 1])) end--;
        return text[start..end];
    }

    /// <summary>
    /// Exact match in percent: <c>EM = 100 · (1/N) Σᵢ [IsMatch(completionᵢ, targetᵢ)]</c>. Throws on an empty list
    /// (the official script divides by zero there).
    /// </summary>
    public static double Percent(IReadOnlyList<(string Completion, string Target)> pairs)
    {
        if (pairs.Count == 0) throw new ArgumentException("exact match of no samples is undefined", nameof(pairs));
        return 100.0 * pairs.Count(p => IsMatch(p.Completion, p.Target)) / pairs.Count;
    }
}
