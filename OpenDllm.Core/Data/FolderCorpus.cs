using System.Runtime.CompilerServices;
using System.Text;

namespace OpenDllm.Data;

/// <summary>
/// Every matching file under a folder is one document (id = its '/'-separated path relative to the folder).
/// Files are visited in ordinal order of their paths, one at a time; files with a NUL byte (binary) or invalid
/// UTF-8, and files outside the size limits, are skipped and counted in <see cref="Stats"/>. A UTF-8 BOM is dropped;
/// hidden entries are skipped unless asked for, and symbolic links to folders are not followed.
/// </summary>
public sealed class FolderCorpus : ICorpus
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    readonly Glob[] _include;
    readonly Glob[] _exclude;

    /// <summary>A corpus of the files under <paramref name="root"/> selected by <paramref name="options"/>.</summary>
    public FolderCorpus(string root, FolderCorpusOptions? options = null)
    {
        Root = Path.GetFullPath(root);
        Options = options ?? new FolderCorpusOptions();
        if (Options.MinBytes < 0 || Options.MaxBytes < Options.MinBytes)
            throw new ArgumentException($"folder corpus size limits must satisfy 0 <= min ({Options.MinBytes}) <= max ({Options.MaxBytes})");
        _include = Options.Include.Select(p => new Glob(p)).ToArray();
        _exclude = Options.Exclude.Select(p => new Glob(p)).ToArray();
    }

    /// <summary>The folder (absolute).</summary>
    public string Root { get; }

    /// <summary>The file selection.</summary>
    public FolderCorpusOptions Options { get; }

    /// <summary>The source kind recorded in <see cref="Identity"/>: <c>folder</c>, or <c>python-stdlib</c> for <see cref="DefaultCorpus"/>.</summary>
    public string Kind { get; init; } = "folder";

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public CorpusIdentity Identity() =>
        new() { Kind = Kind, Path = Root, Folder = Options, Files = FileListFingerprint.Of(MatchingFiles()) };

    /// <inheritdoc/>
    public string Description =>
        $"folder {Root} (include {string.Join(", ", Options.Include)}" +
        (Options.Exclude.Count > 0 ? $"; exclude {string.Join(", ", Options.Exclude)}" : "") +
        $"; {Options.MinBytes}..{Options.MaxBytes} bytes)";

    /// <inheritdoc/>
    public long? TotalBytes => Files().Sum(f => f.Length);

    /// <summary>The matching files in reading order with their relative paths (size limits not yet applied).</summary>
    public IEnumerable<(string RelativePath, FileInfo File)> MatchingFiles() =>
        Files().Select(f => (Relative(f.FullName), f));

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        foreach (var file in Files())
        {
            cancellationToken.ThrowIfCancellationRequested();
            long length = file.Length;
            if (length < Options.MinBytes) { Stats.SkippedTooSmall++; continue; }
            if (length > Options.MaxBytes) { Stats.SkippedTooLarge++; continue; }
            var bytes = await File.ReadAllBytesAsync(file.FullName, cancellationToken).ConfigureAwait(false);
            Stats.BytesRead += bytes.Length;
            var text = Decode(bytes);
            if (text is null) continue;
            Stats.Documents++;
            yield return new Document(Relative(file.FullName), text);
        }
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    /// <summary>UTF-8 text of <paramref name="bytes"/>, or null (and a count) for binary or non-UTF-8 content.</summary>
    string? Decode(byte[] bytes)
    {
        if (Array.IndexOf(bytes, (byte)0) >= 0) { Stats.SkippedBinary++; return null; }
        var span = bytes.AsSpan();
        if (span.StartsWith(Encoding.UTF8.Preamble)) span = span[3..];
        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            Stats.SkippedNonUtf8++;
            return null;
        }
    }

    string Relative(string fullPath) => Path.GetRelativePath(Root, fullPath).Replace('\\', '/');

    IEnumerable<FileInfo> Files()
    {
        if (!Directory.Exists(Root)) throw new DirectoryNotFoundException($"corpus folder not found: {Root}");
        return Walk(new DirectoryInfo(Root));
    }

    IEnumerable<FileInfo> Walk(DirectoryInfo dir)
    {
        var options = new EnumerationOptions
        {
            IgnoreInaccessible = true,
            AttributesToSkip = Options.IncludeHidden ? 0 : FileAttributes.Hidden,
        };
        var entries = dir.EnumerateFileSystemInfos("*", options)
                         .Where(e => Options.IncludeHidden || !e.Name.StartsWith('.'))
                         .OrderBy(e => e.Name, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry is DirectoryInfo sub)
            {
                if (sub.LinkTarget is not null) continue;   // symbolic links to folders are not followed (no cycles)
                foreach (var f in Walk(sub)) yield return f;
            }
            else if (entry is FileInfo file)
            {
                var rel = Relative(file.FullName);
                if (Glob.Any(_include, rel) && !Glob.Any(_exclude, rel)) yield return file;
            }
        }
    }
}
