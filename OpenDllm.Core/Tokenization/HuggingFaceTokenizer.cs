using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace OpenDllm.Tokenization;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer (<c>tokenizer.json</c> of Qwen2, Qwen2.5, Qwen3 and similar),
/// encoding through ML.Tokenizers' <see cref="BpeTokenizer"/> configured as in PLATFORM.md §4.
/// </summary>
/// <remarks>
/// <para><b>Supported tokenizer.json.</b> <c>model.type</c> "BPE" with empty <c>continuing_subword_prefix</c> /
/// <c>end_of_word_suffix</c>, no <c>dropout</c> and <c>ignore_merges</c> false; merges as <c>["a","b"]</c> pairs or
/// legacy <c>"a b"</c> strings; <c>normalizer</c> null or NFC; <c>pre_tokenizer</c> either
/// Sequence[Split(Regex, "Isolated"), ByteLevel(use_regex=false)] (Qwen) or ByteLevel(use_regex=true) (GPT-2 regex),
/// without <c>add_prefix_space</c>; <c>decoder</c> null or ByteLevel. Anything else throws
/// <see cref="InvalidDataException"/> naming the file and the field. <c>added_tokens</c> are matched literally in
/// the text (their <c>lstrip</c>/<c>rstrip</c>/<c>single_word</c>/<c>normalized</c> flags are not honoured; all of
/// them are false in the Qwen files). The post-processor is ignored: <see cref="Encode"/> never adds BOS/EOS.</para>
/// <para><b>EOS.</b> Qwen3's tokenizer_config.json says <c>eos_token</c> is <c>&lt;|im_end|&gt;</c> (the chat
/// turn end), but the base and coder models were pretrained with documents ending in <c>&lt;|endoftext|&gt;</c>
/// (id 151643), which is what diffusion pretraining appends (SPEC §2.1). So EOS is <c>&lt;|endoftext|&gt;</c>
/// whenever the tokenizer has it, else the config's <c>eos_token</c>. PAD is the config's <c>pad_token</c>
/// when it names a token, else EOS. BOS is the config's <c>bos_token</c> if set (Qwen: none). The FIM ids come
/// from <c>&lt;|fim_prefix|&gt;</c>, <c>&lt;|fim_middle|&gt;</c>, <c>&lt;|fim_suffix|&gt;</c> when present.</para>
/// <para><b>Mask.</b> The config's <c>mask_token</c> if it names a token, else an added token spelled
/// <c>&lt;|mask|&gt;</c>, <c>&lt;M&gt;</c> or <c>[MASK]</c>. Otherwise <c>&lt;M&gt;</c> is added as a special token
/// with id = largest id + 1 (Qwen3/Qwen2.5: 151669), as Open-dLLM's training does (SPEC §2.1). Its embedding
/// row must exist: Qwen2.5 configs have <c>vocab_size</c> 151,936, more than the 151,665–151,669 tokenizer ids, so
/// the new id lands in a padded row and no resize is needed. Pass the model's embedding rows as
/// <c>embeddingRows</c> to have this checked at load time. The added <c>&lt;M&gt;</c> behaves like any added
/// token: the literal text "&lt;M&gt;" encodes to the mask id, and <see cref="Save"/> writes it into
/// <c>added_tokens</c>.</para>
/// <para><b>Name.</b> <c>"hf-bpe:"</c> + the first 12 hex digits of the SHA-256 of the tokenizer.json this
/// tokenizer would save (the file itself, plus the added <c>&lt;M&gt;</c> entry when one was added), so a
/// Save→Load round trip keeps the name.</para>
/// <para>Instances are immutable after loading; encoding uses ML.Tokenizers' internal cache.</para>
/// </remarks>
public sealed class HuggingFaceTokenizer : ITokenizer
{
    /// <summary>File name of the Hugging Face fast-tokenizer file.</summary>
    public const string TokenizerJsonFileName = "tokenizer.json";

    /// <summary>File name of the Hugging Face tokenizer configuration.</summary>
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    /// <summary>The mask token added when the tokenizer has none (SPEC §2.1).</summary>
    public const string AddedMaskToken = "<M>";

    /// <summary>Added-token spellings accepted as an existing mask token, in order of preference.</summary>
    public static IReadOnlyList<string> MaskTokenSpellings { get; } = ["<|mask|>", "<M>", "[MASK]"];

    /// <summary>GPT-2's pre-tokenization regex, used for ByteLevel(use_regex=true).</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _bpe;
    private readonly string?[] _idToToken;
    private readonly bool[] _isAdded;
    private readonly bool[] _isSpecial;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int> _added;
    private readonly byte[] _tokenizerJson;
    private readonly byte[]? _configJson;

    private HuggingFaceTokenizer(
        BpeTokenizer bpe, string?[] idToToken, bool[] isAdded, bool[] isSpecial,
        Dictionary<string, int> vocab, Dictionary<string, int> added,
        byte[] tokenizerJson, byte[]? configJson, SpecialTokens special, bool maskAdded, string sourcePath)
    {
        _bpe = bpe;
        _idToToken = idToToken;
        _isAdded = isAdded;
        _isSpecial = isSpecial;
        _vocab = vocab;
        _added = added;
        _tokenizerJson = tokenizerJson;
        _configJson = configJson;
        Special = special;
        MaskTokenAdded = maskAdded;
        SourcePath = sourcePath;
        Name = "hf-bpe:" + Convert.ToHexStringLower(SHA256.HashData(tokenizerJson))[..12];
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    /// <remarks>Largest vocabulary or added-token id + 1, counting an added <c>&lt;M&gt;</c> (Qwen3 + <c>&lt;M&gt;</c>: 151,670).</remarks>
    public int VocabSize => _idToToken.Length;

    /// <inheritdoc/>
    public SpecialTokens Special { get; }

    /// <summary>True when the tokenizer had no mask token and <c>&lt;M&gt;</c> was added at load time.</summary>
    public bool MaskTokenAdded { get; }

    /// <summary>The tokenizer.json this instance was loaded from.</summary>
    public string SourcePath { get; }

    /// <summary>The added tokens (content → id), including an added <c>&lt;M&gt;</c>.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => _added;

    /// <summary>The id of an added token or a (byte-level spelled) vocabulary token, or null.</summary>
    public int? TokenToId(string token) =>
        _added.TryGetValue(token, out int a) ? a : _vocab.TryGetValue(token, out int v) ? v : null;

    /// <summary>The added-token content or byte-level vocabulary string of <paramref name="id"/>, or null when the id has none.</summary>
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <summary>True when <paramref name="id"/> is left out by <c>skipSpecialTokens</c>: an added token marked <c>"special": true</c> or an id in <see cref="Special"/>.</summary>
    public bool IsSpecial(int id) => id >= 0 && id < _isSpecial.Length && _isSpecial[id];

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _bpe.EncodeToIds(text);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Vocabulary tokens are mapped back through the byte-level alphabet and the bytes decoded as UTF-8
    /// (invalid sequences → U+FFFD); added tokens are emitted literally. <paramref name="skipSpecialTokens"/>
    /// leaves out added tokens marked <c>"special": true</c> (as HF does) and, unlike HF, also every id in
    /// <see cref="Special"/>: Qwen marks <c>&lt;|fim_prefix|&gt;</c> etc. non-special, but decoded infills should not
    /// contain them. Other non-special added tokens (Qwen3's <c>&lt;think&gt;</c>, <c>&lt;|file_sep|&gt;</c>) stay.
    /// No cleanup of tokenization spaces is done, so for NFC text <c>Decode(Encode(t)) == t</c>.
    /// </remarks>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || _idToToken[id] is not string token) continue;
            if (_isAdded[id])
            {
                ByteTokenizer.Flush(bytes, sb);
                if (!(skipSpecialTokens && _isSpecial[id])) sb.Append(token);
            }
            else
            {
                ByteLevelAlphabet.AppendBytes(token, bytes);
            }
        }
        ByteTokenizer.Flush(bytes, sb);
        return sb.ToString();
    }

    /// <summary>
    /// Writes <c>tokenizer.json</c> (the loaded file, with <c>&lt;M&gt;</c> appended to <c>added_tokens</c> when
    /// it was added) and <c>tokenizer_config.json</c> (the loaded one, or a minimal one naming eos/pad/bos tokens;
    /// with <c>mask_token</c> and an <c>added_tokens_decoder</c> entry for an added <c>&lt;M&gt;</c>).
    /// </summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        OpenDllm.IO.AtomicFile.WriteAllBytes(Path.Combine(directory, TokenizerJsonFileName), _tokenizerJson);

        JsonObject config;
        if (_configJson is not null)
        {
            config = JsonNode.Parse(_configJson) as JsonObject ?? [];
        }
        else
        {
            config = new JsonObject
            {
                ["tokenizer_class"] = "PreTrainedTokenizerFast",
                ["eos_token"] = IdToToken(Special.Eos),
                ["pad_token"] = IdToToken(Special.Pad),
            };
            if (Special.Bos is int bos) config["bos_token"] = IdToToken(bos);
            config["mask_token"] = IdToToken(Special.Mask);
        }
        if (MaskTokenAdded)
        {
            config["mask_token"] = AddedMaskToken;
            if (config["added_tokens_decoder"] is JsonObject decoder)
                decoder[Special.Mask.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
                {
                    ["content"] = AddedMaskToken,
                    ["lstrip"] = false,
                    ["normalized"] = false,
                    ["rstrip"] = false,
                    ["single_word"] = false,
                    ["special"] = true,
                };
        }
        OpenDllm.IO.AtomicFile.WriteAllText(Path.Combine(directory, TokenizerConfigFileName),
            config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Loads a byte-level BPE <c>tokenizer.json</c> and, when present beside it, <c>tokenizer_config.json</c>.
    /// </summary>
    /// <param name="pathToTokenizerJsonOrDirectory">The tokenizer.json file or the folder holding it.</param>
    /// <param name="embeddingRows">
    /// The model's embedding rows (its config <c>vocab_size</c>, e.g. 151,936 for Qwen2.5). When given, every id,
    /// in particular an added <c>&lt;M&gt;</c>, must be below it.
    /// </param>
    /// <exception cref="FileNotFoundException">No tokenizer.json at the path.</exception>
    /// <exception cref="InvalidDataException">The file is not JSON or not a supported byte-level BPE tokenizer; the message names the file and field.</exception>
    /// <exception cref="ArgumentException">The tokenizer needs more ids than <paramref name="embeddingRows"/>; the message names both numbers.</exception>
    public static HuggingFaceTokenizer Load(string pathToTokenizerJsonOrDirectory, int? embeddingRows = null)
    {
        ArgumentNullException.ThrowIfNull(pathToTokenizerJsonOrDirectory);
        if (embeddingRows is <= 0)
            throw new ArgumentOutOfRangeException(nameof(embeddingRows), embeddingRows, "must be positive");
        string path = Directory.Exists(pathToTokenizerJsonOrDirectory)
            ? Path.Combine(pathToTokenizerJsonOrDirectory, TokenizerJsonFileName)
            : pathToTokenizerJsonOrDirectory;
        if (!File.Exists(path))
            throw new FileNotFoundException($"tokenizer.json not found: {path}", path);
        path = Path.GetFullPath(path);

        byte[] json = File.ReadAllBytes(path);
        string configPath = Path.Combine(Path.GetDirectoryName(path)!, TokenizerConfigFileName);
        byte[]? configJson = File.Exists(configPath) ? File.ReadAllBytes(configPath) : null;
        return new Parser(path, configPath).Build(json, configJson, embeddingRows);
    }

    /// <summary>Reads tokenizer.json / tokenizer_config.json; errors name the file and the JSON field.</summary>
    private sealed class Parser(string path, string configPath)
    {
        private InvalidDataException Bad(string field, string problem) =>
            new($"{path}: unsupported tokenizer.json: field \"{field}\" {problem}");

        public HuggingFaceTokenizer Build(byte[] json, byte[]? configJson, int? embeddingRows)
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(json); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e); }
            using (doc)
            {
                JsonElement root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw Bad("$", "is not a JSON object");

                // --- model ---
                JsonElement model = Required(root, "model", JsonValueKind.Object, "model");
                string? type = OptionalString(model, "type", "model.type");
                if (type is not null && type != "BPE") throw Bad("model.type", $"is \"{type}\"; only \"BPE\" is supported");
                foreach (string f in (string[])["continuing_subword_prefix", "end_of_word_suffix"])
                    if (OptionalString(model, f, "model." + f) is { Length: > 0 } v)
                        throw Bad("model." + f, $"is \"{v}\"; only an empty value is supported");
                if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null)
                    throw Bad("model.dropout", "is set; BPE dropout is not supported");
                if (model.TryGetProperty("ignore_merges", out var ignoreMerges) && ignoreMerges.ValueKind == JsonValueKind.True)
                    throw Bad("model.ignore_merges", "is true; only false is supported");

                JsonElement vocabEl = Required(model, "vocab", JsonValueKind.Object, "model.vocab");
                var vocab = new Dictionary<string, int>(capacity: 160_000, StringComparer.Ordinal);
                foreach (JsonProperty p in vocabEl.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                        throw Bad("model.vocab", $"maps \"{p.Name}\" to {p.Value.GetRawText()}, not a non-negative integer id");
                    vocab[p.Name] = id;
                }
                if (vocab.Count == 0) throw Bad("model.vocab", "is empty");

                JsonElement mergesEl = Required(model, "merges", JsonValueKind.Array, "model.merges");
                var merges = new List<string>(mergesEl.GetArrayLength());
                foreach (JsonElement m in mergesEl.EnumerateArray())
                {
                    if (m.ValueKind == JsonValueKind.String)
                    {
                        string s = m.GetString()!;
                        if (s.Split(' ').Length != 2) throw Bad("model.merges", $"has \"{s}\", not of the form \"a b\"");
                        merges.Add(s);
                    }
                    else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 &&
                             m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                    {
                        string a = m[0].GetString()!, b = m[1].GetString()!;
                        if (a.Contains(' ') || b.Contains(' '))
                            throw Bad("model.merges", $"has a pair containing a space ({m.GetRawText()}); a byte-level vocabulary has none");
                        merges.Add(a + " " + b);
                    }
                    else
                    {
                        throw Bad("model.merges", $"has {m.GetRawText()}; expected [\"a\", \"b\"] or \"a b\"");
                    }
                }

                // --- normalizer, pre-tokenizer, decoder ---
                bool nfc = ReadNormalizer(root);
                string pattern = ReadPreTokenizer(root);
                if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null &&
                    (decoder.ValueKind != JsonValueKind.Object || OptionalString(decoder, "type", "decoder.type") != "ByteLevel"))
                    throw Bad("decoder.type", "is not \"ByteLevel\"; only byte-level tokenizers are supported");

                // --- added tokens ---
                var added = new Dictionary<string, int>(StringComparer.Ordinal);
                var specialIds = new HashSet<int>();
                bool hasAddedTokensArray = false;
                if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind != JsonValueKind.Null)
                {
                    if (addedEl.ValueKind != JsonValueKind.Array) throw Bad("added_tokens", "is not an array");
                    hasAddedTokensArray = true;
                    foreach (JsonElement t in addedEl.EnumerateArray())
                    {
                        if (t.ValueKind != JsonValueKind.Object ||
                            !t.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0 ||
                            !t.TryGetProperty("content", out var contentEl) || contentEl.ValueKind != JsonValueKind.String ||
                            contentEl.GetString() is not { Length: > 0 } content)
                            throw Bad("added_tokens", $"has {t.GetRawText()}; expected {{\"id\": n, \"content\": \"...\"}}");
                        added[content] = id;
                        if (t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True) specialIds.Add(id);
                    }
                }

                // --- tokenizer_config.json ---
                JsonElement config = default;
                JsonDocument? configDoc = null;
                if (configJson is not null)
                {
                    try { configDoc = JsonDocument.Parse(configJson); }
                    catch (JsonException e) { throw new InvalidDataException($"{configPath}: not valid JSON ({e.Message})", e); }
                    config = configDoc.RootElement;
                }
                using (configDoc)
                {
                    return Assemble(json, configJson, embeddingRows, vocab, merges, nfc, pattern, added, specialIds,
                        hasAddedTokensArray, config);
                }
            }
        }

        private HuggingFaceTokenizer Assemble(
            byte[] json, byte[]? configJson, int? embeddingRows, Dictionary<string, int> vocab, List<string> merges,
            bool nfc, string pattern, Dictionary<string, int> added, HashSet<int> specialIds, bool hasAddedTokensArray,
            JsonElement config)
        {
            int? Lookup(string? token) =>
                token is null ? null : added.TryGetValue(token, out int a) ? a : vocab.TryGetValue(token, out int v) ? v : null;
            int? FromConfig(string key) => Lookup(ConfigToken(config, key));

            int eos = Lookup("<|endoftext|>") ?? FromConfig("eos_token") ?? throw new InvalidDataException(
                $"{path}: no EOS token: the tokenizer has no \"<|endoftext|>\" and {configPath} names no eos_token that it has.");
            int pad = FromConfig("pad_token") ?? eos;
            int? bos = FromConfig("bos_token");

            int? mask = FromConfig("mask_token");
            foreach (string spelling in MaskTokenSpellings)
                mask ??= added.TryGetValue(spelling, out int m) ? m : null;

            int maxId = Math.Max(vocab.Values.Max(), added.Count > 0 ? added.Values.Max() : -1);
            bool maskAdded = mask is null;
            if (maskAdded)
            {
                int id = maxId + 1;
                if (embeddingRows is int rows && id >= rows)
                    throw new ArgumentException(
                        $"{path}: the tokenizer has no mask token, and adding \"{AddedMaskToken}\" needs id {id}, " +
                        $"which does not fit in the model's {rows} embedding rows (id must be < {rows}).",
                        nameof(embeddingRows));
                added[AddedMaskToken] = id;
                specialIds.Add(id);
                mask = maxId = id;
                json = InsertAddedToken(json, id, AddedMaskToken, hasAddedTokensArray);
            }
            if (embeddingRows is int r && maxId >= r)
                throw new ArgumentException(
                    $"{path}: the tokenizer needs {maxId + 1} embedding rows but the model has {r}.", nameof(embeddingRows));

            var special = new SpecialTokens
            {
                Mask = mask!.Value,
                Eos = eos,
                Pad = pad,
                Bos = bos,
                FimPrefix = Lookup("<|fim_prefix|>"),
                FimMiddle = Lookup("<|fim_middle|>"),
                FimSuffix = Lookup("<|fim_suffix|>"),
            };

            var idToToken = new string?[maxId + 1];
            var isAdded = new bool[maxId + 1];
            var isSpecial = new bool[maxId + 1];
            foreach (var (token, id) in vocab) idToToken[id] = token;
            foreach (var (token, id) in added)
            {
                idToToken[id] = token;
                isAdded[id] = true;
                isSpecial[id] = specialIds.Contains(id);
            }
            // Qwen marks the FIM markers "special": false; OpenDllm's skipSpecialTokens drops every SpecialTokens id too.
            foreach (var (_, id) in special.All()) isSpecial[id] = true;

            Regex regex;
            try
            {
                regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                throw Bad("pre_tokenizer", $"has a regex .NET cannot compile ({e.Message})");
            }
            var bpe = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(regex, added),
                SpecialTokens = added,
                Normalizer = nfc ? NfcNormalizer.Instance : null,
            });
            return new HuggingFaceTokenizer(bpe, idToToken, isAdded, isSpecial, vocab, added, json, configJson,
                special, maskAdded, path);
        }

        private bool ReadNormalizer(JsonElement root)
        {
            if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null) return false;
            if (n.ValueKind != JsonValueKind.Object) throw Bad("normalizer", "is not an object");
            string? type = OptionalString(n, "type", "normalizer.type");
            if (type == "NFC") return true;
            if (type == "Sequence" && n.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                bool nfc = false;
                foreach (var item in list.EnumerateArray())
                {
                    string? t = item.ValueKind == JsonValueKind.Object ? OptionalString(item, "type", "normalizer.normalizers[].type") : null;
                    if (t != "NFC") throw Bad("normalizer.normalizers[].type", $"is \"{t}\"; only NFC is supported");
                    nfc = true;
                }
                return nfc;
            }
            throw Bad("normalizer.type", $"is \"{type}\"; only NFC (or none) is supported");
        }

        /// <summary>Returns the split regex of a supported byte-level pre-tokenizer.</summary>
        private string ReadPreTokenizer(JsonElement root)
        {
            if (!root.TryGetProperty("pre_tokenizer", out var pt) || pt.ValueKind != JsonValueKind.Object)
                throw Bad("pre_tokenizer", "is missing; a ByteLevel pre-tokenizer is required");
            string? type = OptionalString(pt, "type", "pre_tokenizer.type");
            if (type == "ByteLevel")
            {
                CheckByteLevel(pt, "pre_tokenizer");
                if (pt.TryGetProperty("use_regex", out var ur) && ur.ValueKind == JsonValueKind.False)
                    throw Bad("pre_tokenizer.use_regex", "is false with no Split before it; no pre-tokenization regex is defined");
                return Gpt2Pattern;
            }
            if (type != "Sequence" || !pt.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                throw Bad("pre_tokenizer.type", $"is \"{type}\"; expected ByteLevel or Sequence[Split, ByteLevel]");

            string? pattern = null;
            bool byteLevel = false;
            int i = 0;
            foreach (var item in list.EnumerateArray())
            {
                string field = $"pre_tokenizer.pretokenizers[{i++}]";
                string? t = item.ValueKind == JsonValueKind.Object ? OptionalString(item, "type", field + ".type") : null;
                if (t == "Split" && pattern is null && !byteLevel)
                {
                    if (OptionalString(item, "behavior", field + ".behavior") is var behavior && behavior != "Isolated")
                        throw Bad(field + ".behavior", $"is \"{behavior}\"; only \"Isolated\" is supported");
                    if (item.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True)
                        throw Bad(field + ".invert", "is true; only false is supported");
                    if (!item.TryGetProperty("pattern", out var pat) || pat.ValueKind != JsonValueKind.Object)
                        throw Bad(field + ".pattern", "is missing");
                    if (pat.TryGetProperty("Regex", out var rx) && rx.ValueKind == JsonValueKind.String) pattern = rx.GetString()!;
                    else if (pat.TryGetProperty("String", out var str) && str.ValueKind == JsonValueKind.String) pattern = Regex.Escape(str.GetString()!);
                    else throw Bad(field + ".pattern", "has neither \"Regex\" nor \"String\"");
                }
                else if (t == "ByteLevel" && !byteLevel)
                {
                    CheckByteLevel(item, field);
                    if (item.TryGetProperty("use_regex", out var ur) && ur.ValueKind == JsonValueKind.True)
                    {
                        if (pattern is not null) throw Bad(field + ".use_regex", "is true after a Split; only false is supported there");
                        pattern = Gpt2Pattern;
                    }
                    byteLevel = true;
                }
                else
                {
                    throw Bad(field + ".type", $"is \"{t}\"; only Split followed by ByteLevel is supported");
                }
            }
            if (!byteLevel) throw Bad("pre_tokenizer.pretokenizers", "has no ByteLevel entry; only byte-level BPE is supported");
            return pattern ?? throw Bad("pre_tokenizer.pretokenizers", "has no Split regex and ByteLevel.use_regex is false");
        }

        private void CheckByteLevel(JsonElement byteLevel, string field)
        {
            if (byteLevel.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True)
                throw Bad(field + ".add_prefix_space", "is true; only false is supported");
        }

        private JsonElement Required(JsonElement obj, string name, JsonValueKind kind, string field)
        {
            if (!obj.TryGetProperty(name, out var v)) throw Bad(field, "is missing");
            if (v.ValueKind != kind) throw Bad(field, $"is {v.ValueKind}, expected {kind}");
            return v;
        }

        private string? OptionalString(JsonElement obj, string name, string field)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad(field, $"is {v.ValueKind}, expected a string");
        }

        /// <summary>A token named in tokenizer_config.json: a string or an AddedToken object with "content".</summary>
        private static string? ConfigToken(JsonElement config, string key)
        {
            if (config.ValueKind != JsonValueKind.Object || !config.TryGetProperty(key, out var v)) return null;
            if (v.ValueKind == JsonValueKind.String) return v.GetString();
            if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                return c.GetString();
            return null;
        }

        /// <summary>
        /// Returns <paramref name="json"/> with an added-token entry appended to the top-level "added_tokens"
        /// array, leaving every other byte as it was (so the file stays diff-able against the original).
        /// </summary>
        private byte[] InsertAddedToken(byte[] json, int id, string content, bool hasArray)
        {
            string entry = $"{{\"id\": {id}, \"content\": {JsonSerializer.Serialize(content)}, \"single_word\": false, " +
                           "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}";
            if (!hasArray)
            {
                var node = JsonNode.Parse(json)!.AsObject();
                node["added_tokens"] = new JsonArray(JsonNode.Parse(entry));
                return Encoding.UTF8.GetBytes(node.ToJsonString());
            }

            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 &&
                    reader.ValueTextEquals("added_tokens"u8))
                {
                    reader.Read(); // StartArray
                    bool any = false;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        any = true;
                        reader.Skip();
                    }
                    int close = checked((int)reader.TokenStartIndex);
                    byte[] insert = Encoding.UTF8.GetBytes((any ? ",\n    " : "\n    ") + entry + "\n  ");
                    // Drop whitespace before ']' so the entry follows the last element directly.
                    int cut = close;
                    while (cut > 0 && json[cut - 1] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') cut--;
                    return [.. json.AsSpan(0, cut), .. insert, .. json.AsSpan(close)];
                }
                if (reader.CurrentDepth >= 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    reader.Skip();
            }
            throw Bad("added_tokens", "could not be located");
        }
    }
}
