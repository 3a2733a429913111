namespace OpenDllm.Data;

/// <summary>What one pass over a corpus read and skipped. Updated while the pass runs (progress reporting reads it).</summary>
public sealed class CorpusStats
{
    /// <summary>Documents yielded.</summary>
    public long Documents { get; internal set; }

    /// <summary>Bytes of input consumed so far (file bytes; Parquet: an estimate by row group).</summary>
    public long BytesRead { get; internal set; }

    /// <summary>Files skipped because they contain a NUL byte (binary).</summary>
    public long SkippedBinary { get; internal set; }

    /// <summary>Files skipped because they are not valid UTF-8.</summary>
    public long SkippedNonUtf8 { get; internal set; }

    /// <summary>Files below the minimum size (empty files included).</summary>
    public long SkippedTooSmall { get; internal set; }

    /// <summary>Files above the maximum size.</summary>
    public long SkippedTooLarge { get; internal set; }

    /// <summary>JSONL values or Parquet cells that are null (or empty strings).</summary>
    public long SkippedEmpty { get; internal set; }

    /// <summary>Documents (prompt/response examples) longer than <see cref="PrepareOptions.MaxExampleTokens"/>, dropped by
    /// <see cref="CorpusPreparer"/>.</summary>
    public long SkippedTooLong { get; internal set; }

    /// <summary>Total of all skip counters.</summary>
    public long Skipped => SkippedBinary + SkippedNonUtf8 + SkippedTooSmall + SkippedTooLarge + SkippedEmpty + SkippedTooLong;

    internal void Reset()
    {
        Documents = BytesRead = SkippedBinary = SkippedNonUtf8 = SkippedTooSmall = SkippedTooLarge = SkippedEmpty = SkippedTooLong = 0;
    }

    /// <summary>A copy of the current counters.</summary>
    public CorpusStats Snapshot() => (CorpusStats)MemberwiseClone();

    /// <summary>One line, e.g. <c>734 documents, 14.2 MB; skipped 3 (binary 1, non-UTF-8 2)</c>.</summary>
    public override string ToString()
    {
        var skips = new (string, long)[]
        {
            ("binary", SkippedBinary), ("non-UTF-8", SkippedNonUtf8), ("too small", SkippedTooSmall),
            ("too large", SkippedTooLarge), ("null/empty", SkippedEmpty), ("too many tokens", SkippedTooLong),
        }.Where(s => s.Item2 > 0).Select(s => $"{s.Item1} {s.Item2}");
        var text = $"{Documents} documents, {BytesRead / 1e6:F1} MB";
        return Skipped == 0 ? text : $"{text}; skipped {Skipped} ({string.Join(", ", skips)})";
    }

    internal InvalidDataException Empty(string description) =>
        new($"{description}: the corpus is empty: no documents ({(Skipped == 0 ? "nothing matched" : $"skipped {Skipped}: {this}")})");
}
