using System.Text.Json;
using System.Text.Json.Serialization;
using OpenDllm.IO;

namespace OpenDllm.Data;

/// <summary>Element type of a token shard file (little-endian).</summary>
public enum TokenDType
{
    /// <summary>2 bytes per token; used when the tokenizer's vocabulary has at most 65,536 ids.</summary>
    [JsonStringEnumMemberName("uint16")]
    UInt16,

    /// <summary>4 bytes per token.</summary>
    [JsonStringEnumMemberName("int32")]
    Int32,
}

/// <summary>
/// <c>manifest.json</c> of a prepared token-shard folder (snake_case JSON, strict: a missing or unknown key is an error).
/// Each split is a list of shards; a shard is a tokens file (the split's documents, each <c>tokenize(text) + [EOS]</c>,
/// back to back) and an offsets file (int64 little-endian, documents + 1 entries: where each document starts, then the
/// token count), both with their SHA-256.
/// </summary>
public sealed record ShardManifest
{
    /// <summary>The value of <see cref="Format"/>.</summary>
    public const string FormatName = "opendllm-token-shards";

    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The manifest's file name inside the folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Always <see cref="FormatName"/>.</summary>
    public required string Format { get; init; }

    /// <summary>Always <see cref="CurrentVersion"/>.</summary>
    public required int Version { get; init; }

    /// <summary>The tokenizer that produced the ids.</summary>
    public required ShardTokenizer Tokenizer { get; init; }

    /// <summary>Element type of every tokens file.</summary>
    public required TokenDType Dtype { get; init; }

    /// <summary>The corpus description (<see cref="ICorpus.Description"/>).</summary>
    public required string Source { get; init; }

    /// <summary>
    /// The source (kind, path, field, file selection, file fingerprint), compared before the folder is reused; null in
    /// manifests written before it was recorded, which are therefore never reused for training.
    /// </summary>
    public CorpusIdentity? Identity { get; init; }

    /// <summary>The settings the folder was prepared with.</summary>
    public required PrepareOptions Settings { get; init; }

    /// <summary>What the corpus pass read and skipped.</summary>
    public required CorpusCounts Corpus { get; init; }

    /// <summary>The splits by name (<see cref="DocumentSplit.Train"/>, <see cref="DocumentSplit.Validation"/>).</summary>
    public required IReadOnlyDictionary<string, SplitManifest> Splits { get; init; }

    /// <summary>When the folder was written (UTC).</summary>
    public required DateTimeOffset CreatedUtc { get; init; }

    /// <summary>Bytes per token of <see cref="Dtype"/>.</summary>
    public static int BytesPerToken(TokenDType dtype) => dtype == TokenDType.UInt16 ? 2 : 4;

    /// <summary>The narrowest element type that holds every id of a vocabulary of <paramref name="vocabSize"/>.</summary>
    public static TokenDType DTypeFor(int vocabSize) => vocabSize <= 1 << 16 ? TokenDType.UInt16 : TokenDType.Int32;

    /// <summary>Writes the manifest atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, DataJson.Readable));

    /// <summary>Reads and checks a manifest (format, version, field ranges, split/shard totals).</summary>
    /// <exception cref="InvalidDataException">Not a valid manifest; the message names the file.</exception>
    public static ShardManifest Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no token-shard manifest (run `opendllm prepare`)", path);
        ShardManifest? manifest;
        try { manifest = JsonSerializer.Deserialize(File.ReadAllBytes(path), DataJson.Default.ShardManifest); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: damaged token-shard manifest ({e.Message})", e); }
        if (manifest is null) throw new InvalidDataException($"{path}: damaged token-shard manifest (null)");
        var problem = manifest.Problem();
        return problem is null ? manifest : throw new InvalidDataException($"{path}: damaged token-shard manifest: {problem}");
    }

    string? Problem()
    {
        if (Format != FormatName) return $"format is \"{Format}\", expected \"{FormatName}\"";
        if (Version != CurrentVersion) return $"version {Version}, this OpenDllm reads version {CurrentVersion}";
        if (Tokenizer.VocabSize <= 0 || Tokenizer.EosId < 0 || Tokenizer.EosId >= Tokenizer.VocabSize)
            return $"tokenizer vocab_size {Tokenizer.VocabSize} / eos_id {Tokenizer.EosId} out of range";
        if (Dtype == TokenDType.UInt16 && Tokenizer.VocabSize > 1 << 16) return $"dtype uint16 cannot hold vocab_size {Tokenizer.VocabSize}";
        foreach (var (name, split) in Splits)
        {
            if (split.Shards.Sum(s => s.Tokens) != split.Tokens) return $"split {name}: shard token counts do not add up to {split.Tokens}";
            if (split.Shards.Sum(s => s.Documents) != split.Documents) return $"split {name}: shard document counts do not add up to {split.Documents}";
            foreach (var s in split.Shards)
                if (s.Tokens < s.Documents || s.Documents <= 0 || s.TokensSha256.Length != 64 || s.OffsetsSha256.Length != 64 ||
                    s.TokensFile.Contains('/') || s.OffsetsFile.Contains('/') || s.TokensFile.Contains('\\') || s.OffsetsFile.Contains('\\') ||
                    (s.PromptsFile is null) != (s.PromptsSha256 is null) || s.PromptsFile is { } p && (p.Contains('/') || p.Contains('\\') || s.PromptsSha256!.Length != 64))
                    return $"split {name}: shard entry {s.TokensFile} is inconsistent";
        }
        return null;
    }
}

/// <summary>Tokenizer identity in a manifest.</summary>
/// <param name="Name"><see cref="Tokenization.ITokenizer.Name"/>.</param>
/// <param name="VocabSize"><see cref="Tokenization.ITokenizer.VocabSize"/>.</param>
/// <param name="EosId">The EOS id appended after every document.</param>
public sealed record ShardTokenizer(string Name, int VocabSize, int EosId);

/// <summary>One split: its totals and shards in reading order.</summary>
public sealed record SplitManifest(long Documents, long Tokens, IReadOnlyList<ShardEntry> Shards);

/// <summary>
/// One shard: file names (relative to the folder), counts and SHA-256 (lowercase hex) of both files, and for prompt/response
/// data (<see cref="SftCorpus"/>) a third file: each document's prompt length in tokens (int32 little-endian, one per document).
/// </summary>
public sealed record ShardEntry(string TokensFile, string OffsetsFile, long Tokens, long Documents, string TokensSha256, string OffsetsSha256,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PromptsFile = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PromptsSha256 = null);

/// <summary>The corpus counters recorded in a manifest (see <see cref="CorpusStats"/>).</summary>
/// <param name="SkippedTooLong">Examples dropped for exceeding <see cref="PrepareOptions.MaxExampleTokens"/> (absent in older manifests).</param>
public sealed record CorpusCounts(long Documents, long Bytes, long SkippedBinary, long SkippedNonUtf8, long SkippedTooSmall,
                                  long SkippedTooLarge, long SkippedEmpty, long SkippedTooLong = 0)
{
    /// <summary>The counters of <paramref name="stats"/>.</summary>
    public static CorpusCounts From(CorpusStats stats) => new(stats.Documents, stats.BytesRead, stats.SkippedBinary,
        stats.SkippedNonUtf8, stats.SkippedTooSmall, stats.SkippedTooLarge, stats.SkippedEmpty, stats.SkippedTooLong);
}
