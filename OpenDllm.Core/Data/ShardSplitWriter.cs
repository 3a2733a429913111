using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OpenDllm.Data;

/// <summary>
/// Writes one split's shards into a folder: <c>{split}-{k:D5}.tokens</c> (ids, little-endian <see cref="TokenDType"/>)
/// and <c>{split}-{k:D5}.offsets</c> (int64 little-endian document starts, then the token count), hashing as it writes.
/// A shard is closed once it holds at least the target number of tokens; documents never straddle shards. When a document
/// of the shard comes with a prompt length, the shard also gets <c>{split}-{k:D5}.prompts</c> (int32 little-endian, one
/// prompt length per document; 0 for documents without a prompt).
/// </summary>
internal sealed class ShardSplitWriter : IDisposable
{
    readonly string _directory;
    readonly string _split;
    readonly TokenDType _dtype;
    readonly long _targetTokens;
    readonly int _vocabSize;
    readonly List<ShardEntry> _shards = [];
    readonly List<long> _ends = [];   // per document of the open shard: where it ends
    readonly List<int> _prompts = []; // per document of the open shard: its prompt length
    bool _hasPrompts;                 // some document of the open shard came with a prompt
    long _shardTokens;
    byte[] _buffer = new byte[1 << 16];
    FileStream? _tokens;
    IncrementalHash? _hash;
    string _tokensFile = "";

    public ShardSplitWriter(string directory, string split, TokenDType dtype, long targetTokens, int vocabSize)
    {
        (_directory, _split, _dtype, _targetTokens, _vocabSize) = (directory, split, dtype, targetTokens, vocabSize);
    }

    public long Documents { get; private set; }

    public long Tokens { get; private set; }

    /// <summary>Appends one document (its ids, EOS already included), with the length of its prompt when it has one.</summary>
    public void Add(ReadOnlySpan<int> ids, int? promptLength = null)
    {
        if (promptLength is { } p && (p < 0 || p >= ids.Length))
            throw new ArgumentOutOfRangeException(nameof(promptLength), p, $"a prompt length must lie in [0, {ids.Length}) (the document's EOS is never prompt)");
        if (_tokens is null) Open();
        int width = ShardManifest.BytesPerToken(_dtype);
        if (_buffer.Length < ids.Length * width) _buffer = new byte[Math.Max(ids.Length * width, _buffer.Length * 2)];
        var bytes = _buffer.AsSpan(0, ids.Length * width);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)_vocabSize)
                throw new InvalidOperationException($"the tokenizer produced id {id}, outside its vocabulary [0, {_vocabSize})");
            if (_dtype == TokenDType.UInt16) BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], (ushort)id);
            else BinaryPrimitives.WriteInt32LittleEndian(bytes[(4 * i)..], id);
        }
        _tokens!.Write(bytes);
        _hash!.AppendData(bytes);
        _shardTokens += ids.Length;
        _ends.Add(_shardTokens);
        _prompts.Add(promptLength ?? 0);
        _hasPrompts |= promptLength.HasValue;
        Documents++;
        Tokens += ids.Length;
        if (_shardTokens >= _targetTokens) Close();
    }

    /// <summary>Closes the open shard and returns the split's manifest entry.</summary>
    public SplitManifest Complete()
    {
        Close();
        return new SplitManifest(Documents, Tokens, _shards.ToArray());
    }

    void Open()
    {
        _tokensFile = $"{_split}-{_shards.Count:D5}.tokens";
        _tokens = new FileStream(Path.Combine(_directory, _tokensFile), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        _ends.Clear();
        _prompts.Clear();
        _hasPrompts = false;
        _shardTokens = 0;
    }

    void Close()
    {
        if (_tokens is null) return;
        _tokens.Flush(flushToDisk: true);
        _tokens.Dispose();
        _tokens = null;
        var tokensSha = Convert.ToHexStringLower(_hash!.GetHashAndReset());
        _hash.Dispose();
        _hash = null;

        var offsets = new byte[(_ends.Count + 1) * 8];
        for (int d = 0; d < _ends.Count; d++)
            BinaryPrimitives.WriteInt64LittleEndian(offsets.AsSpan(8 * (d + 1)), _ends[d]);
        var offsetsFile = Path.ChangeExtension(_tokensFile, ".offsets");
        using (var stream = new FileStream(Path.Combine(_directory, offsetsFile), FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write(offsets);
            stream.Flush(flushToDisk: true);
        }
        string? promptsFile = null, promptsSha = null;
        if (_hasPrompts)
        {
            var prompts = new byte[_prompts.Count * 4];
            for (int d = 0; d < _prompts.Count; d++) BinaryPrimitives.WriteInt32LittleEndian(prompts.AsSpan(4 * d), _prompts[d]);
            promptsFile = Path.ChangeExtension(_tokensFile, ".prompts");
            using (var stream = new FileStream(Path.Combine(_directory, promptsFile), FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(prompts);
                stream.Flush(flushToDisk: true);
            }
            promptsSha = Convert.ToHexStringLower(SHA256.HashData(prompts));
        }
        _shards.Add(new ShardEntry(_tokensFile, offsetsFile, _shardTokens, _ends.Count, tokensSha,
                                   Convert.ToHexStringLower(SHA256.HashData(offsets)), promptsFile, promptsSha));
    }

    public void Dispose()
    {
        _tokens?.Dispose();
        _hash?.Dispose();
    }
}
