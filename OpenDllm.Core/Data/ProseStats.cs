namespace OpenDllm.Data;

/// <summary>What the latest pass of a <see cref="PythonDocstringCorpus"/> found, dropped and kept (updated while it runs).</summary>
public sealed class ProseStats
{
    /// <summary>Python files read (files skipped as binary, non-UTF-8 or by size are counted in <see cref="ICorpus.Stats"/>).</summary>
    public long Files { get; internal set; }

    /// <summary>Docstrings found.</summary>
    public long Docstrings { get; internal set; }

    /// <summary>Comment blocks found (0 when comments are left out).</summary>
    public long CommentBlocks { get; internal set; }

    /// <summary>Texts dropped for being shorter than <see cref="PythonDocstringsOptions.MinChars"/> (after doctest removal).</summary>
    public long DroppedShort { get; internal set; }

    /// <summary>Texts dropped for a <see cref="ProseText.LetterShare"/> below <see cref="PythonDocstringsOptions.MinLetterShare"/>.</summary>
    public long DroppedNotProse { get; internal set; }

    /// <summary>Texts dropped because an identical text was kept earlier in the pass.</summary>
    public long DroppedDuplicate { get; internal set; }

    /// <summary>Texts kept (the documents).</summary>
    public long Kept { get; internal set; }

    /// <summary>Characters (UTF-16 code units) of the kept texts.</summary>
    public long Characters { get; internal set; }

    /// <summary>Whitespace-separated words of the kept texts.</summary>
    public long Words { get; internal set; }

    internal void Reset() => Files = Docstrings = CommentBlocks = DroppedShort = DroppedNotProse = DroppedDuplicate = Kept = Characters = Words = 0;

    /// <summary>One line, e.g. <c>700 files: found 9000 docstrings and 8000 comment blocks; kept 7000 texts (…); dropped …</c>.</summary>
    public override string ToString() =>
        $"{Files:N0} files: found {Docstrings:N0} docstrings and {CommentBlocks:N0} comment blocks; kept {Kept:N0} texts ({Characters:N0} characters, {Words:N0} words); " +
        $"dropped {DroppedShort:N0} short, {DroppedNotProse:N0} not prose, {DroppedDuplicate:N0} duplicates";
}
