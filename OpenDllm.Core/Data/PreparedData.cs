using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using OpenDllm.Tokenization;

namespace OpenDllm.Data;

/// <summary>
/// Rules for reusing and replacing prepared token-shard folders: when a folder matches a corpus (same source identity,
/// tokenizer and split settings), where a folder derived from a source lives, and which folders may be replaced.
/// </summary>
public static partial class PreparedData
{
    /// <summary>Where derived folders go unless told otherwise (git-ignored).</summary>
    public const string DefaultRoot = "runs/data";

    /// <summary>
    /// The folder a source is prepared into when the recipe names none: <c>runs/data/&lt;kind&gt;-&lt;12 hex&gt;</c>, the
    /// hash over the source's <see cref="CorpusIdentity.SelectionKey"/>, the tokenizer and the split settings. The file
    /// fingerprint is not part of it: when the files change, the same folder is prepared again.
    /// </summary>
    public static string DefaultFolder(CorpusIdentity identity, ITokenizer tokenizer, PrepareOptions options, string root = DefaultRoot)
    {
        var key = $"{identity.SelectionKey()}\ntokenizer={tokenizer.Name}/{tokenizer.VocabSize}/{tokenizer.Special.Eos}\n" +
                  $"val={options.ValidationFraction.ToString("R", CultureInfo.InvariantCulture)}\nseed={options.Seed}\nmax={options.MaxDocuments}" +
                  (options.MaxExampleTokens is { } longest ? $"\nmax_example_tokens={longest}" : "");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];
        var kind = SafeName().Replace(identity.Kind, "_");
        return Path.Combine(root, $"{kind}-{hash}");
    }

    /// <summary>
    /// Why a folder with <paramref name="manifest"/> cannot serve <paramref name="identity"/> tokenized by
    /// <paramref name="tokenizer"/> with <paramref name="options"/> (one phrase each); empty when it can.
    /// The shard size is not compared (it changes no token).
    /// </summary>
    public static IReadOnlyList<string> Differences(ShardManifest manifest, CorpusIdentity identity, ITokenizer tokenizer, PrepareOptions options)
    {
        var why = new List<string>();
        if (manifest.Identity is null)
            why.Add($"it was prepared by an earlier OpenDllm that did not record its source (\"{manifest.Source}\")");
        else why.AddRange(manifest.Identity.Differences(identity));
        var t = manifest.Tokenizer;
        if (t.Name != tokenizer.Name || t.VocabSize != tokenizer.VocabSize || t.EosId != tokenizer.Special.Eos)
            why.Add($"tokenizer: prepared with {t.Name} (vocab {t.VocabSize}), asked for {tokenizer.Name} (vocab {tokenizer.VocabSize})");
        var s = manifest.Settings;
        if (s.ValidationFraction != options.ValidationFraction)
            why.Add($"validation fraction: prepared with {s.ValidationFraction.ToString(CultureInfo.InvariantCulture)}, asked for {options.ValidationFraction.ToString(CultureInfo.InvariantCulture)}");
        if (s.Seed != options.Seed) why.Add($"split seed: prepared with {s.Seed}, asked for {options.Seed}");
        if (s.MaxDocuments != options.MaxDocuments)
            why.Add($"max documents: prepared with {s.MaxDocuments?.ToString(CultureInfo.InvariantCulture) ?? "all"}, asked for {options.MaxDocuments?.ToString(CultureInfo.InvariantCulture) ?? "all"}");
        if (s.MaxExampleTokens != options.MaxExampleTokens)
            why.Add($"longest example: prepared with {s.MaxExampleTokens?.ToString(CultureInfo.InvariantCulture) ?? "no limit"}, asked for {options.MaxExampleTokens?.ToString(CultureInfo.InvariantCulture) ?? "no limit"} tokens");
        return why;
    }

    /// <summary>
    /// The entries of <paramref name="directory"/> that are not part of a prepared token-shard folder (its manifest and
    /// the shard files it lists, or files named like shards when the manifest is unreadable). A folder with any such
    /// entry (checkpoints, metrics, other data) is never replaced by preparing. Empty for a missing folder.
    /// </summary>
    public static IReadOnlyList<string> ForeignEntries(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        var manifestPath = Path.Combine(directory, ShardManifest.FileName);
        HashSet<string>? listed = null;
        if (File.Exists(manifestPath))
        {
            try
            {
                var manifest = ShardManifest.Load(manifestPath);
                listed = [ShardManifest.FileName, .. manifest.Splits.Values.SelectMany(s => s.Shards)
                    .SelectMany(e => e.PromptsFile is { } prompts ? new[] { e.TokensFile, e.OffsetsFile, prompts } : [e.TokensFile, e.OffsetsFile])];
            }
            catch (InvalidDataException) { }
        }
        bool Ours(string name) => listed?.Contains(name) ?? (name == ShardManifest.FileName || ShardFileName().IsMatch(name));
        bool hasManifest = File.Exists(manifestPath);
        return Directory.EnumerateFileSystemEntries(directory)
            .Select(Path.GetFileName)
            .Where(name => !hasManifest || Directory.Exists(Path.Combine(directory, name!)) || !Ours(name!))
            .Select(name => name!).Order(StringComparer.Ordinal).ToList();
    }

    [GeneratedRegex("^[a-z]+-[0-9]{5}\\.(tokens|offsets|prompts)$")]
    private static partial Regex ShardFileName();

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex SafeName();
}
