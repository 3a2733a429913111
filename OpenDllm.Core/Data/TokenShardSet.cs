using OpenDllm.Tokenization;

namespace OpenDllm.Data;

/// <summary>
/// A prepared token-shard folder (written by <see cref="CorpusPreparer"/>), memory-mapped: the manifest and one
/// <see cref="TokenSplit"/> per split. Dispose to unmap.
/// </summary>
public sealed class TokenShardSet : IDisposable
{
    readonly Dictionary<string, TokenSplit> _splits;
    readonly List<TokenShard> _shards;

    TokenShardSet(string directory, ShardManifest manifest, Dictionary<string, TokenSplit> splits, List<TokenShard> shards)
    {
        (Directory, Manifest, _splits, _shards) = (directory, manifest, splits, shards);
    }

    /// <summary>The folder (absolute).</summary>
    public string Directory { get; }

    /// <summary>The manifest.</summary>
    public ShardManifest Manifest { get; }

    /// <summary>The training split.</summary>
    public TokenSplit Train => Split(DocumentSplit.Train);

    /// <summary>The validation split (may hold no documents when prepared with fraction 0).</summary>
    public TokenSplit Validation => Split(DocumentSplit.Validation);

    /// <summary>The split called <paramref name="name"/>.</summary>
    public TokenSplit Split(string name) => _splits.TryGetValue(name, out var split) ? split
        : throw new ArgumentException($"{Directory}: no split \"{name}\"; splits: {string.Join(", ", _splits.Keys)}");

    /// <summary>
    /// Opens <paramref name="directory"/>: reads and checks the manifest, checks every shard's size and document offsets,
    /// and (when <paramref name="verify"/>) every file's SHA-256 — skip that for speed on a trusted folder.
    /// </summary>
    /// <exception cref="InvalidDataException">A damaged manifest or a corrupt or missing shard; the message names the file.</exception>
    public static TokenShardSet Open(string directory, bool verify = true)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full)) throw new DirectoryNotFoundException($"token-shard folder not found: {full} (run `opendllm prepare`)");
        var manifestPath = Path.Combine(full, ShardManifest.FileName);
        var manifest = ShardManifest.Load(manifestPath);
        var shards = new List<TokenShard>();
        try
        {
            var splits = new Dictionary<string, TokenSplit>();
            foreach (var (name, split) in manifest.Splits)
            {
                var opened = new List<TokenShard>();
                foreach (var entry in split.Shards)
                {
                    var shard = new TokenShard(full, entry, manifest.Dtype, manifest.Tokenizer.EosId, verify);
                    shards.Add(shard);
                    opened.Add(shard);
                }
                splits[name] = new TokenSplit(name, opened, manifest.Tokenizer.EosId);
            }
            foreach (var required in new[] { DocumentSplit.Train, DocumentSplit.Validation })
                if (!splits.ContainsKey(required))
                    throw new InvalidDataException($"{manifestPath}: damaged token-shard manifest: no split \"{required}\"");
            return new TokenShardSet(full, manifest, splits, shards);
        }
        catch
        {
            foreach (var shard in shards) shard.Dispose();
            throw;
        }
    }

    /// <summary>Throws unless <paramref name="tokenizer"/> is the one the shards were made with (same name and vocabulary).</summary>
    public void EnsureTokenizer(ITokenizer tokenizer)
    {
        var t = Manifest.Tokenizer;
        if (t.Name != tokenizer.Name || t.VocabSize != tokenizer.VocabSize || t.EosId != tokenizer.Special.Eos)
            throw new InvalidOperationException(
                $"{Directory}: prepared with tokenizer {t.Name} (vocab {t.VocabSize}, eos {t.EosId}), not {tokenizer.Name} (vocab {tokenizer.VocabSize}, eos {tokenizer.Special.Eos}); prepare it again");
    }

    /// <summary>Unmaps every shard.</summary>
    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }
}
