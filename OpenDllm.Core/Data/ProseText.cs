namespace OpenDllm.Data;

/// <summary>
/// Text rules for prose corpora (<see cref="PythonDocstringCorpus"/>): doctest removal, whitespace tidying, and the measures
/// the keep-or-drop filter uses (<see cref="PythonDocstringsOptions"/>).
/// </summary>
public static class ProseText
{
    /// <summary>
    /// <paramref name="text"/> without its interactive examples, by doctest's own rule: a line whose first non-blank
    /// characters are <c>&gt;&gt;&gt;</c> starts an example; the lines right after it that start with <c>...</c> continue the
    /// source; the non-blank lines after that, up to the first blank line or the next <c>&gt;&gt;&gt;</c>, are its expected
    /// output. All of these lines are removed; blank lines stay.
    /// </summary>
    public static string RemoveDoctests(string text)
    {
        if (!text.Contains(">>>", StringComparison.Ordinal)) return text;
        var kept = new List<string>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].TrimStart().StartsWith(">>>", StringComparison.Ordinal)) { kept.Add(lines[i]); continue; }
            while (i + 1 < lines.Length && lines[i + 1].TrimStart().StartsWith("...", StringComparison.Ordinal)) i++;
            while (i + 1 < lines.Length && lines[i + 1].Trim().Length > 0 && !lines[i + 1].TrimStart().StartsWith(">>>", StringComparison.Ordinal)) i++;
        }
        return string.Join('\n', kept);
    }

    /// <summary>Trailing whitespace removed from every line, runs of blank lines reduced to one, leading and trailing blank lines dropped.</summary>
    public static string Tidy(string text)
    {
        var lines = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0 && (lines.Count == 0 || lines[^1].Length == 0)) continue;
            lines.Add(line);
        }
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return string.Join('\n', lines);
    }

    /// <summary>The share of characters that are ASCII letters or whitespace (1 for empty text): high for prose, low for code and tables.</summary>
    public static double LetterShare(string text)
    {
        if (text.Length == 0) return 1;
        int letters = 0;
        foreach (char c in text) if (char.IsAsciiLetter(c) || char.IsWhiteSpace(c)) letters++;
        return (double)letters / text.Length;
    }

    /// <summary>Whitespace-separated words.</summary>
    public static long Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).LongLength;
}
