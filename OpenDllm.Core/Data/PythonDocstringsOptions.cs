using System.Globalization;

namespace OpenDllm.Data;

/// <summary>
/// What <see cref="PythonDocstringCorpus"/> extracts and keeps. Every field, and <see cref="ExtractorVersion"/>, is part of the
/// corpus identity (<see cref="CorpusIdentity.Extraction"/>), so a prepared folder is never reused across a change of rules.
/// </summary>
public sealed record PythonDocstringsOptions
{
    /// <summary>
    /// The version of the extraction rules (<see cref="PythonProseExtractor"/>, <see cref="ProseText"/>); raise it whenever
    /// a change to them changes the documents, so folders prepared by the old rules are prepared again.
    /// </summary>
    public const string ExtractorVersion = "1";

    /// <summary>Also keep comment blocks, not only docstrings. Default true.</summary>
    public bool IncludeComments { get; init; } = true;

    /// <summary>Texts shorter than this many characters (after cleaning) are dropped. Default 40.</summary>
    public int MinChars { get; init; } = 40;

    /// <summary>Texts whose <see cref="ProseText.LetterShare"/> is below this are dropped as not prose. Default 0.7.</summary>
    public double MinLetterShare { get; init; } = 0.7;

    /// <summary>Throws for settings outside their range.</summary>
    /// <exception cref="ArgumentException">A negative length, or a share outside [0, 1].</exception>
    public PythonDocstringsOptions Validate()
    {
        if (MinChars < 1) throw new ArgumentException($"python-docstrings min_chars = {MinChars}: must be ≥ 1");
        if (MinLetterShare is < 0 or > 1 || double.IsNaN(MinLetterShare))
            throw new ArgumentException($"python-docstrings min_letter_share = {MinLetterShare.ToString(CultureInfo.InvariantCulture)}: must lie in [0, 1]");
        return this;
    }

    /// <summary>The stable text recorded as <see cref="CorpusIdentity.Extraction"/>, e.g. <c>python-docstrings v1; comments=true; min_chars=40; min_letter_share=0.7</c>.</summary>
    public string Key() =>
        $"python-docstrings v{ExtractorVersion}; comments={(IncludeComments ? "true" : "false")}; min_chars={MinChars.ToString(CultureInfo.InvariantCulture)}; " +
        $"min_letter_share={MinLetterShare.ToString("R", CultureInfo.InvariantCulture)}";
}
