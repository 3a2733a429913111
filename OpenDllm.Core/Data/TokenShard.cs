using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;

namespace OpenDllm.Data;

/// <summary>
/// One memory-mapped shard: its tokens file and its document offsets. Opening checks the file sizes against the
/// manifest and the offsets (start at 0, strictly increasing, end at the token count, every document ends with EOS);
/// with <c>verify</c> it also checks both SHA-256 sums. A prompts file (prompt/response data), when listed, is read into
/// memory and checked the same way (size, SHA-256 with <c>verify</c>, every prompt shorter than its document).
/// Any mismatch is an <see cref="InvalidDataException"/> naming the file.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    readonly MemoryMappedFile _tokensMap, _offsetsMap;
    readonly MemoryMappedViewAccessor _tokensView, _offsetsView;
    readonly byte* _tokens;
    readonly byte* _offsets;
    readonly int[]? _prompts;
    bool _disposed;

    internal TokenShard(string directory, ShardEntry entry, TokenDType dtype, int eosId, bool verify)
    {
        DType = dtype;
        TokenCount = entry.Tokens;
        DocumentCount = entry.Documents;
        TokensPath = Path.Combine(directory, entry.TokensFile);
        OffsetsPath = Path.Combine(directory, entry.OffsetsFile);
        Check(TokensPath, entry.Tokens * ShardManifest.BytesPerToken(dtype), verify ? entry.TokensSha256 : null);
        Check(OffsetsPath, (entry.Documents + 1) * 8, verify ? entry.OffsetsSha256 : null);
        _tokensView = Map(TokensPath, out _tokensMap, out _tokens);
        try
        {
            _offsetsView = Map(OffsetsPath, out _offsetsMap, out _offsets);
            CheckOffsets(eosId);
            if (entry.PromptsFile is { } promptsFile) _prompts = ReadPrompts(Path.Combine(directory, promptsFile), verify ? entry.PromptsSha256 : null);
        }
        catch { Dispose(); throw; }
    }

    /// <summary>True when the shard records each document's prompt length (prompt/response data).</summary>
    public bool HasPrompts => _prompts is not null;

    /// <summary>The number of prompt tokens at the start of document <paramref name="document"/> (0 without prompts).</summary>
    public int PromptLength(long document)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((ulong)document, (ulong)DocumentCount, nameof(document));
        return _prompts is null ? 0 : _prompts[document];
    }

    int[] ReadPrompts(string path, string? sha256)
    {
        Check(path, DocumentCount * 4, sha256);
        var bytes = File.ReadAllBytes(path);
        var prompts = new int[DocumentCount];
        for (long d = 0; d < DocumentCount; d++)
        {
            prompts[d] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan((int)(4 * d), 4));
            long length = DocumentStart(d + 1) - DocumentStart(d);
            if (prompts[d] < 0 || prompts[d] >= length)
                throw Corrupt(path, $"document {d}'s prompt length {prompts[d]} is outside [0, {length}) (its EOS is never prompt)");
        }
        return prompts;
    }

    /// <summary>The tokens file.</summary>
    public string TokensPath { get; }

    /// <summary>The offsets file.</summary>
    public string OffsetsPath { get; }

    /// <summary>Element type of the tokens file.</summary>
    public TokenDType DType { get; }

    /// <summary>Tokens in this shard (EOS included).</summary>
    public long TokenCount { get; }

    /// <summary>Documents in this shard.</summary>
    public long DocumentCount { get; }

    /// <summary>The token at <paramref name="index"/>.</summary>
    public int this[long index]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((ulong)index, (ulong)TokenCount, nameof(index));
            return DType == TokenDType.UInt16
                ? BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(_tokens + 2 * index, 2))
                : BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(_tokens + 4 * index, 4));
        }
    }

    /// <summary>Copies tokens [<paramref name="start"/>, start + destination.Length) into <paramref name="destination"/>.</summary>
    public void ReadTokens(long start, Span<int> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (start < 0 || start + destination.Length > TokenCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + destination.Length}) outside [0, {TokenCount})");
        if (DType == TokenDType.UInt16)
        {
            var source = new ReadOnlySpan<byte>(_tokens + 2 * start, 2 * destination.Length);
            for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
        }
        else
        {
            var source = new ReadOnlySpan<byte>(_tokens + 4 * start, 4 * destination.Length);
            for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadInt32LittleEndian(source[(4 * i)..]);
        }
    }

    /// <summary>Where document <paramref name="document"/> starts; <c>DocumentStart(DocumentCount) == TokenCount</c>.</summary>
    public long DocumentStart(long document)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((ulong)document, (ulong)DocumentCount, nameof(document));
        return BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(_offsets + 8 * document, 8));
    }

    void CheckOffsets(int eosId)
    {
        if (DocumentStart(0) != 0) throw Corrupt(OffsetsPath, "the first document does not start at 0");
        for (long d = 1; d <= DocumentCount; d++)
        {
            long end = DocumentStart(d);
            if (end <= DocumentStart(d - 1) || end > TokenCount)
                throw Corrupt(OffsetsPath, $"document {d - 1} ends at {end}, outside ({DocumentStart(d - 1)}, {TokenCount}]");
            if (this[end - 1] != eosId) throw Corrupt(TokensPath, $"document {d - 1} does not end with EOS ({eosId})");
        }
        if (DocumentStart(DocumentCount) != TokenCount) throw Corrupt(OffsetsPath, $"the last document does not end at {TokenCount}");
    }

    static void Check(string path, long expectedBytes, string? sha256)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new InvalidDataException($"{path}: shard file listed in the manifest is missing");
        if (info.Length != expectedBytes) throw Corrupt(path, $"{info.Length} bytes, the manifest implies {expectedBytes}");
        if (sha256 is null) return;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
            throw Corrupt(path, $"SHA-256 {actual} differs from the manifest's {sha256}");
    }

    static InvalidDataException Corrupt(string path, string why) => new($"{path}: corrupt token shard: {why}");

    static MemoryMappedViewAccessor Map(string path, out MemoryMappedFile map, out byte* pointer)
    {
        map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        pointer = p + view.PointerOffset;
        return view;
    }

    /// <summary>Unmaps both files.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var view in new[] { _tokensView, _offsetsView })
        {
            if (view is null) continue;
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        _tokensMap?.Dispose();
        _offsetsMap?.Dispose();
    }
}
