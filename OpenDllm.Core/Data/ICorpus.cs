namespace OpenDllm.Data;

/// <summary>
/// A source of raw documents read as a stream: one document in memory at a time (or one Parquet row group),
/// so memory stays flat for a corpus larger than RAM.
/// </summary>
/// <remarks>
/// Implementations: <see cref="FolderCorpus"/>, <see cref="JsonlCorpus"/>, <see cref="ParquetCorpus"/>, and
/// <see cref="DefaultCorpus"/> (the machine's Python standard library), <see cref="PythonDocstringCorpus"/> (its English prose). Every reader throws
/// <see cref="InvalidDataException"/> at the end of a pass that produced no document at all.
/// </remarks>
public interface ICorpus
{
    /// <summary>One line saying what this corpus is (kind, path, field or column), recorded in shard manifests.</summary>
    string Description { get; }

    /// <summary>Counters of the latest pass (documents, bytes, skipped files or rows and why).</summary>
    CorpusStats Stats { get; }

    /// <summary>Total bytes the pass will read when cheaply known (file sizes), for progress bars; otherwise null.</summary>
    long? TotalBytes { get; }

    /// <summary>
    /// Streams the documents in a deterministic order. Each call starts a new pass and resets <see cref="Stats"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">Malformed input (named by file and line/row) or an empty corpus.</exception>
    IAsyncEnumerable<Document> ReadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// What this corpus is and the state of its files now (<see cref="CorpusIdentity"/>), recorded in shard manifests and
    /// compared before a prepared folder is reused. The default, for corpora that are not files, matches nothing.
    /// </summary>
    /// <exception cref="FileNotFoundException">The corpus file or folder does not exist.</exception>
    CorpusIdentity Identity() => CorpusIdentity.Custom(Description);
}
