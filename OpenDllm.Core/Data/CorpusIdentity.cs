using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OpenDllm.Data;

/// <summary>
/// What a corpus is, recorded in every shard manifest (<see cref="ShardManifest.Identity"/>) so that a prepared folder is
/// reused only for the data it was made from: the source kind, the resolved path, the JSONL field or Parquet column, a
/// folder corpus's file selection, and a fingerprint of the input files as they were when preparing started.
/// </summary>
/// <remarks>
/// The fingerprint hashes each input file's relative path, size and modification time, not its content: checking it
/// costs one <c>stat</c> per file, so it can run on every training start even for a corpus of hundreds of gigabytes, where
/// hashing the content would take minutes. Every ordinary edit, copy or re-download changes the size or the time; a
/// change that keeps both (a tool that restores modification times) is not noticed, and then the folder has to be
/// prepared again by hand (<c>opendllm prepare</c>, or delete it).
/// </remarks>
public sealed record CorpusIdentity
{
    /// <summary><c>folder</c>, <c>python-stdlib</c>, <c>python-docstrings</c>, <c>jsonl</c>, <c>parquet</c>, or <c>custom</c> for other corpora.</summary>
    public required string Kind { get; init; }

    /// <summary>The absolute file or folder read (for a custom corpus: its description).</summary>
    public required string Path { get; init; }

    /// <summary>The JSONL field or Parquet column holding the text (Parquet: null for the default columns).</summary>
    public string? Field { get; init; }

    /// <summary>The file selection of a folder corpus; null for other kinds.</summary>
    public FolderCorpusOptions? Folder { get; init; }

    /// <summary>
    /// For a corpus derived from its files by extraction rules (<see cref="PythonDocstringCorpus"/>): those rules and their
    /// version (<see cref="PythonDocstringsOptions.Key"/>), so that a change of rules prepares again; null for other kinds.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Extraction { get; init; }

    /// <summary>The input files as they were when read.</summary>
    public required FileListFingerprint Files { get; init; }

    /// <summary>The identity of a corpus this code cannot fingerprint (never equal to anything, itself included).</summary>
    public static CorpusIdentity Custom(string description) =>
        new() { Kind = "custom", Path = description, Files = FileListFingerprint.Unknown };

    /// <summary>
    /// A stable text of everything but the file fingerprint (kind, path, field, selection, extraction): what names a folder derived
    /// from this source (<see cref="PreparedData.DefaultFolder"/>).
    /// </summary>
    public string SelectionKey()
    {
        var text = new StringBuilder().Append("kind=").Append(Kind).Append("\npath=").Append(Path).Append("\nfield=").Append(Field ?? "");
        if (Folder is { } f)
            text.Append("\ninclude=").AppendJoin('\u001f', f.Include).Append("\nexclude=").AppendJoin('\u001f', f.Exclude)
                .Append("\nbytes=").Append(f.MinBytes).Append("..").Append(f.MaxBytes).Append("\nhidden=").Append(f.IncludeHidden);
        if (Extraction is not null) text.Append("\nextraction=").Append(Extraction);
        return text.ToString();
    }

    /// <summary>How <paramref name="wanted"/> differs from this (the recorded) identity, one phrase per difference; empty when the same.</summary>
    public IReadOnlyList<string> Differences(CorpusIdentity wanted)
    {
        var why = new List<string>();
        void Compare(string what, string? recorded, string? asked)
        {
            if (recorded != asked) why.Add($"{what}: prepared from {recorded ?? "(default)"}, asked for {asked ?? "(default)"}");
        }
        Compare("source", Kind, wanted.Kind);
        Compare("path", Path, wanted.Path);
        Compare("field/column", Field, wanted.Field);
        Compare("extraction", Extraction, wanted.Extraction);
        if (Folder is { } a && wanted.Folder is { } b)
        {
            Compare("include", string.Join(", ", a.Include), string.Join(", ", b.Include));
            Compare("exclude", string.Join(", ", a.Exclude), string.Join(", ", b.Exclude));
            Compare("file sizes", $"{a.MinBytes}..{a.MaxBytes} bytes", $"{b.MinBytes}..{b.MaxBytes} bytes");
            Compare("hidden files", a.IncludeHidden ? "included" : "skipped", b.IncludeHidden ? "included" : "skipped");
        }
        else if ((Folder is null) != (wanted.Folder is null)) why.Add("folder file selection: present in one, absent in the other");
        if (why.Count == 0 && !Files.Matches(wanted.Files))
            why.Add($"the files changed since preparing: {Files} then, {wanted.Files} now");
        return why;
    }
}

/// <summary>
/// A corpus's input files at one moment: how many, their total size, and the SHA-256 of the lines
/// <c>relative-path TAB size TAB mtime-ticks-UTC</c> in reading order.
/// </summary>
public sealed record FileListFingerprint(long Count, long Bytes, string Sha256)
{
    /// <summary>No fingerprint (a corpus that is not files); matches nothing.</summary>
    public static FileListFingerprint Unknown { get; } = new(0, 0, "");

    /// <summary>The fingerprint of <paramref name="files"/> (relative path, file), in the order given.</summary>
    public static FileListFingerprint Of(IEnumerable<(string RelativePath, FileInfo File)> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long count = 0, bytes = 0;
        foreach (var (relative, file) in files)
        {
            long length = file.Length;
            var line = $"{relative}\t{length}\t{file.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture)}\n";
            hash.AppendData(Encoding.UTF8.GetBytes(line));
            count++;
            bytes += length;
        }
        return new FileListFingerprint(count, bytes, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>Same files, sizes and times (never true for <see cref="Unknown"/>).</summary>
    public bool Matches(FileListFingerprint other) => Sha256.Length > 0 && this == other;

    /// <summary>e.g. <c>712 files, 14.2 MB, a1b2c3d4…</c>.</summary>
    public override string ToString() =>
        Sha256.Length == 0 ? "no fingerprint" : $"{Count} files, {Bytes / 1e6:F1} MB, {Sha256[..Math.Min(8, Sha256.Length)]}…";
}
