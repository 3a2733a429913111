using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using OpenDllm.IO;

namespace OpenDllm.Tokenization;

/// <summary>
/// BERT's WordPiece tokenizer over a <c>vocab.txt</c> (one token per line, id = line index), as Hugging Face's
/// <c>BertTokenizer</c> does it: basic tokenization (clean control characters, split on whitespace and punctuation, each CJK
/// character its own word; lowercase and strip accents when <c>do_lower_case</c>), then greedy longest-match-first WordPiece
/// with <c>##</c> continuations and <c>[UNK]</c> for words that cannot be split. The work is done by Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/>. <see cref="Encode"/> adds no <c>[CLS]</c>/<c>[SEP]</c>; literal special tokens
/// (<c>[MASK]</c>, …) in the text map to their ids. Specials: Mask = <c>[MASK]</c>, Eos = <c>[SEP]</c>, Pad = <c>[PAD]</c>,
/// Bos = <c>[CLS]</c> (103, 102, 0, 101 in the uncased BERT / MiniLM vocabulary).
/// </summary>
public sealed class BertWordPieceTokenizer : ITokenizer
{
    /// <summary>The vocabulary file name, as in Hugging Face BERT folders.</summary>
    public const string VocabFileName = "vocab.txt";
    /// <summary>The <c>tokenizer_class</c> written to and recognised in <c>tokenizer_config.json</c>.</summary>
    public const string TokenizerClass = "BertTokenizer";

    readonly BertTokenizer _tokenizer;
    readonly byte[] _vocab;
    readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    BertWordPieceTokenizer(byte[] vocab, bool lowerCase, string source)
    {
        _vocab = vocab;
        LowerCase = lowerCase;
        _tokenizer = BertTokenizer.Create(new MemoryStream(vocab), new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            RemoveNonSpacingMarks = lowerCase,             // HF: strip_accents follows do_lower_case when unset
            ApplyBasicTokenization = true,
            IndividuallyTokenizeCjk = true,
            SplitOnSpecialTokens = true,
        });
        var lines = System.Text.Encoding.UTF8.GetString(vocab).Split('\n');
        VocabSize = lines.Length - (lines[^1].Length == 0 ? 1 : 0);
        for (int i = 0; i < VocabSize; i++) _ids.TryAdd(lines[i].TrimEnd('\r'), i);
        int Id(string token) => _ids.TryGetValue(token, out var id) ? id
            : throw new InvalidDataException($"{source}: {VocabFileName} has no {token} token");
        Special = new SpecialTokens { Mask = Id("[MASK]"), Eos = Id("[SEP]"), Pad = Id("[PAD]"), Bos = Id("[CLS]") };
        Name = (lowerCase ? "wordpiece:" : "wordpiece-cased:") + Convert.ToHexStringLower(SHA256.HashData(vocab))[..12];
    }

    /// <summary><c>"wordpiece:&lt;first 12 hex digits of the SHA-256 of vocab.txt&gt;"</c> (<c>wordpiece-cased:</c> without lowercasing).</summary>
    public string Name { get; }
    public int VocabSize { get; }
    public SpecialTokens Special { get; }
    /// <summary>Whether text is lowercased and accents stripped first (HF <c>do_lower_case</c>; true for MiniLM and bert-base-uncased).</summary>
    public bool LowerCase { get; }

    /// <summary>Reads <paramref name="vocabFile"/> (a <c>vocab.txt</c>).</summary>
    public static BertWordPieceTokenizer FromVocab(string vocabFile, bool lowerCase = true)
    {
        if (!File.Exists(vocabFile)) throw new FileNotFoundException($"{vocabFile}: vocabulary not found", vocabFile);
        return new BertWordPieceTokenizer(File.ReadAllBytes(vocabFile), lowerCase, vocabFile);
    }

    /// <summary>Opens a folder holding <c>vocab.txt</c> and, optionally, a <c>tokenizer_config.json</c> (its <c>do_lower_case</c>, default true).</summary>
    public static BertWordPieceTokenizer Load(string directory)
    {
        var config = Path.Combine(directory, HuggingFaceTokenizer.TokenizerConfigFileName);
        bool lower = true;
        if (File.Exists(config))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
            if (doc.RootElement.TryGetProperty("do_lower_case", out var l))
                lower = l.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new InvalidDataException($"{config}: do_lower_case must be true or false"),
                };
            if (doc.RootElement.TryGetProperty("strip_accents", out var s) && s.ValueKind is JsonValueKind.True or JsonValueKind.False
                && (s.ValueKind == JsonValueKind.True) != lower)
                throw new InvalidDataException($"{config}: strip_accents = {s.GetRawText()} differs from do_lower_case; only strip_accents = do_lower_case (or null) is supported");
            if (doc.RootElement.TryGetProperty("tokenize_chinese_chars", out var c) && c.ValueKind == JsonValueKind.False)
                throw new InvalidDataException($"{config}: tokenize_chinese_chars = false is not supported");
        }
        return FromVocab(Path.Combine(directory, VocabFileName), lower);
    }

    public IReadOnlyList<int> Encode(string text) =>
        _tokenizer.EncodeToIds(text, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var kept = ids.Where(i => i >= 0 && i < VocabSize && (!skipSpecialTokens || !IsSpecial(i)));
        return _tokenizer.Decode(kept) ?? "";
    }

    bool IsSpecial(int id) => Special.All().Any(s => s.Id == id) || id == _ids.GetValueOrDefault("[UNK]", -1);

    /// <summary>Writes <c>vocab.txt</c> (byte for byte) and a <c>tokenizer_config.json</c> that <see cref="Tokenizers.Load"/> recognises.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllBytes(Path.Combine(directory, VocabFileName), _vocab);
        var config = new JsonObject
        {
            ["tokenizer_class"] = TokenizerClass, ["do_lower_case"] = LowerCase, ["strip_accents"] = null, ["tokenize_chinese_chars"] = true,
            ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
        };
        AtomicFile.WriteAllText(Path.Combine(directory, HuggingFaceTokenizer.TokenizerConfigFileName),
                                config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
