namespace OpenDllm.Data;

/// <summary>How <see cref="CorpusPreparer"/> splits and shards a corpus; recorded in the manifest's <c>settings</c>.</summary>
public sealed record PrepareOptions
{
    /// <summary>Fraction of documents in the validation split (by hashed id, <see cref="DocumentSplit"/>). Default 0.01.</summary>
    public double ValidationFraction { get; init; } = 0.01;

    /// <summary>Seed of the split hash. Default 0.</summary>
    public long Seed { get; init; }

    /// <summary>A shard is closed once it holds at least this many tokens (documents are never split across shards). Default 2^26.</summary>
    public long ShardTokens { get; init; } = 1L << 26;

    /// <summary>Stop after this many documents (all splits), or null for the whole corpus.</summary>
    public long? MaxDocuments { get; init; }

    /// <summary>
    /// Drop (and count in <see cref="CorpusStats.SkippedTooLong"/>) every document longer than this many tokens, EOS
    /// included, or null to keep all. Data read one example per row (<see cref="PackingMode.Examples"/>, SFT) sets it to the
    /// sequence length: an example that does not fit is left out whole rather than cut, since a cut response has no EOS
    /// to learn and its prompt would no longer match the evaluation's.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxExampleTokens { get; init; }

    internal void Validate()
    {
        if (ValidationFraction is < 0 or >= 1 || double.IsNaN(ValidationFraction))
            throw new ArgumentException($"validation fraction {ValidationFraction} is outside [0, 1)");
        if (ShardTokens <= 0) throw new ArgumentException($"shard tokens {ShardTokens} must be positive");
        if (MaxDocuments is <= 0) throw new ArgumentException($"max documents {MaxDocuments} must be positive");
        if (MaxExampleTokens is < 2) throw new ArgumentException($"max example tokens {MaxExampleTokens} must be at least 2");
    }
}

/// <summary>Progress of <see cref="CorpusPreparer"/>, reported about ten times a second and once at the end.</summary>
/// <param name="Documents">Documents tokenized so far (both splits).</param>
/// <param name="Tokens">Tokens written so far, EOS included.</param>
/// <param name="BytesRead">Input bytes consumed (<see cref="CorpusStats.BytesRead"/>).</param>
/// <param name="TotalBytes">Input bytes of the whole corpus when known (<see cref="ICorpus.TotalBytes"/>).</param>
/// <param name="Skipped">Files, lines or rows skipped so far.</param>
/// <param name="Elapsed">Time since the start.</param>
/// <param name="Done">True for the final report (the output folder is in place).</param>
public sealed record PrepareProgress(long Documents, long Tokens, long BytesRead, long? TotalBytes, long Skipped, TimeSpan Elapsed, bool Done)
{
    /// <summary>Fraction done in [0, 1] by bytes, or null when the total is unknown.</summary>
    public double? Fraction => Done ? 1 : TotalBytes is > 0 ? Math.Clamp((double)BytesRead / TotalBytes.Value, 0, 1) : null;

    /// <summary>Tokens per second so far.</summary>
    public double TokensPerSecond => Elapsed.TotalSeconds > 0 ? Tokens / Elapsed.TotalSeconds : 0;
}
