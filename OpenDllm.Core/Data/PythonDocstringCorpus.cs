using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace OpenDllm.Data;

/// <summary>
/// English prose from Python sources (<c>data.source: python-docstrings</c>): the docstrings and comment blocks
/// (<see cref="PythonProseExtractor"/>) of the same files <c>python-stdlib</c> reads (<see cref="DefaultCorpus.Options"/>:
/// the machine's standard library without its test suites and <c>site-packages</c>, or another folder), one document per
/// kept text.
/// </summary>
/// <remarks>
/// <para>Per text: doctest examples removed (<see cref="ProseText.RemoveDoctests"/>), whitespace tidied
/// (<see cref="ProseText.Tidy"/>), then kept only when at least <see cref="PythonDocstringsOptions.MinChars"/> long, with a
/// letter share of at least <see cref="PythonDocstringsOptions.MinLetterShare"/>, and not identical to a text kept earlier
/// (the first one wins, so boilerplate such as repeated licence headers or <c>"""Return self."""</c> appears once).</para>
/// <para>Order and ids are deterministic: files in ordinal path order, texts by line within a file; a document's id is
/// <c>relative/path.py:line</c>, the line where its docstring or comment block starts.</para>
/// </remarks>
public sealed class PythonDocstringCorpus : ICorpus
{
    /// <summary>The source kind (<c>data.source</c>, <c>--source</c>).</summary>
    public const string Kind = "python-docstrings";

    /// <summary>Where <c>opendllm prepare --source python-docstrings</c> writes by default (git-ignored).</summary>
    public const string DefaultOutputDirectory = "runs/data/python-docstrings";

    readonly FolderCorpus _files;

    /// <summary>The prose of the Python files under <paramref name="root"/> (default: the stdlib, <see cref="DefaultCorpus.LocateStdlib"/>).</summary>
    public PythonDocstringCorpus(string? root = null, PythonDocstringsOptions? options = null)
    {
        Options = (options ?? new PythonDocstringsOptions()).Validate();
        _files = DefaultCorpus.Create(root);
    }

    /// <summary>The folder read (absolute).</summary>
    public string Root => _files.Root;

    /// <summary>The extraction and filter settings.</summary>
    public PythonDocstringsOptions Options { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <summary>What the latest pass found, dropped and kept.</summary>
    public ProseStats Prose { get; } = new();

    /// <inheritdoc/>
    public string Description => $"{Kind} from {_files.Description}; {Options.Key()}";

    /// <inheritdoc/>
    public long? TotalBytes => _files.TotalBytes;

    /// <inheritdoc/>
    public CorpusIdentity Identity() => _files.Identity() with { Kind = Kind, Extraction = Options.Key() };

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        Prose.Reset();
        var seen = new HashSet<UInt128>();
        await foreach (var file in _files.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            Prose.Files++;
            foreach (var piece in PythonProseExtractor.Extract(file.Text, Options.IncludeComments))
            {
                if (piece.Kind == PythonProseKind.Docstring) Prose.Docstrings++; else Prose.CommentBlocks++;
                var text = ProseText.Tidy(piece.Kind == PythonProseKind.Docstring ? ProseText.RemoveDoctests(piece.Text) : piece.Text);
                if (text.Length < Options.MinChars) { Prose.DroppedShort++; continue; }
                if (ProseText.LetterShare(text) < Options.MinLetterShare) { Prose.DroppedNotProse++; continue; }
                if (!seen.Add(Fingerprint(text))) { Prose.DroppedDuplicate++; continue; }
                Prose.Kept++;
                Prose.Characters += text.Length;
                Prose.Words += ProseText.Words(text);
                Stats.Documents++;
                CopyFileCounters();
                yield return new Document($"{file.Id}:{piece.Line}", text);
            }
            CopyFileCounters();
        }
        CopyFileCounters();
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    /// <summary>The file-level counters (bytes read, skipped files) come from the folder pass underneath.</summary>
    void CopyFileCounters()
    {
        var f = _files.Stats;
        Stats.BytesRead = f.BytesRead;
        Stats.SkippedBinary = f.SkippedBinary;
        Stats.SkippedNonUtf8 = f.SkippedNonUtf8;
        Stats.SkippedTooSmall = f.SkippedTooSmall;
        Stats.SkippedTooLarge = f.SkippedTooLarge;
    }

    static UInt128 Fingerprint(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return new UInt128(BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]));
    }
}
