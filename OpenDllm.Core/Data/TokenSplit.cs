namespace OpenDllm.Data;

/// <summary>
/// One split of a <see cref="TokenShardSet"/> seen as a single token stream: its shards back to back, with global
/// token positions and global document indices. Owned (and disposed) by its set.
/// </summary>
public sealed class TokenSplit
{
    readonly TokenShard[] _shards;
    readonly long[] _tokenBase;      // first global token of each shard, then the total
    readonly long[] _documentBase;   // first global document of each shard, then the total

    internal TokenSplit(string name, IReadOnlyList<TokenShard> shards, int eosId)
    {
        Name = name;
        EosId = eosId;
        _shards = shards.ToArray();
        _tokenBase = new long[_shards.Length + 1];
        _documentBase = new long[_shards.Length + 1];
        for (int s = 0; s < _shards.Length; s++)
        {
            _tokenBase[s + 1] = _tokenBase[s] + _shards[s].TokenCount;
            _documentBase[s + 1] = _documentBase[s] + _shards[s].DocumentCount;
        }
    }

    /// <summary>The split's name (<c>train</c>, <c>validation</c>).</summary>
    public string Name { get; }

    /// <summary>The EOS id that ends every document.</summary>
    public int EosId { get; }

    /// <summary>The shards in order.</summary>
    public IReadOnlyList<TokenShard> Shards => _shards;

    /// <summary>Tokens in the split (EOS included).</summary>
    public long TokenCount => _tokenBase[^1];

    /// <summary>Documents in the split.</summary>
    public long DocumentCount => _documentBase[^1];

    /// <summary>Copies tokens [<paramref name="start"/>, start + destination.Length) of the stream, across shards.</summary>
    public void ReadTokens(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > TokenCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + destination.Length}) outside split {Name} [0, {TokenCount})");
        while (destination.Length > 0)
        {
            int s = ShardOfToken(start);
            long local = start - _tokenBase[s];
            int n = (int)Math.Min(destination.Length, _shards[s].TokenCount - local);
            _shards[s].ReadTokens(local, destination[..n]);
            destination = destination[n..];
            start += n;
        }
    }

    /// <summary>The tokens of document <paramref name="document"/> (its EOS last).</summary>
    public int[] ReadDocument(long document)
    {
        long start = DocumentStart(document), end = DocumentStart(document + 1);
        var tokens = new int[end - start];
        ReadTokens(start, tokens);
        return tokens;
    }

    /// <summary>True when the split records each document's prompt length (prompt/response data, <see cref="SftCorpus"/>).</summary>
    public bool HasPrompts => _shards.Any(s => s.HasPrompts);

    /// <summary>The number of prompt tokens at the start of document <paramref name="document"/> (0 when it has no prompt).</summary>
    public int PromptLength(long document)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((ulong)document, (ulong)DocumentCount, nameof(document));
        int s = UpperBound(_documentBase, document) - 1;
        return _shards[s].PromptLength(document - _documentBase[s]);
    }

    /// <summary>Global start of document <paramref name="document"/>; <c>DocumentStart(DocumentCount) == TokenCount</c>.</summary>
    public long DocumentStart(long document)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((ulong)document, (ulong)DocumentCount, nameof(document));
        if (document == DocumentCount) return TokenCount;
        int s = UpperBound(_documentBase, document) - 1;
        return _tokenBase[s] + _shards[s].DocumentStart(document - _documentBase[s]);
    }

    /// <summary>The document that holds global token <paramref name="position"/>.</summary>
    public long DocumentAt(long position)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((ulong)position, (ulong)TokenCount, nameof(position));
        int s = ShardOfToken(position);
        var shard = _shards[s];
        long local = position - _tokenBase[s], lo = 0, hi = shard.DocumentCount;   // last d with start(d) <= local
        while (hi - lo > 1)
        {
            long mid = (lo + hi) / 2;
            if (shard.DocumentStart(mid) <= local) lo = mid; else hi = mid;
        }
        return _documentBase[s] + lo;
    }

    int ShardOfToken(long position) => UpperBound(_tokenBase, position) - 1;

    /// <summary>Index of the first element greater than <paramref name="value"/> in the sorted <paramref name="bases"/>.</summary>
    static int UpperBound(long[] bases, long value)
    {
        int lo = 0, hi = bases.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (bases[mid] <= value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
