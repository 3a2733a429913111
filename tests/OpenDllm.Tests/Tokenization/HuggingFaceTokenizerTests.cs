using System.Text;
using System.Text.Json.Nodes;
using FsCheck.Xunit;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Tokenization;

/// <summary>Loader behaviour on a tiny synthetic byte-level BPE tokenizer.json (fast; no npm fixture needed).</summary>
public sealed class HuggingFaceTokenizerTests : IDisposable
{
    private const string QwenRegex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "opendllm-tok-" + Guid.NewGuid().ToString("N"));

    public HuggingFaceTokenizerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// 256 byte tokens (id = byte value), merges Ġ+t, h+e, Ġt+he, i+n (ids 256–259), then added tokens
    /// &lt;|endoftext|&gt; 260 and the given extras from 261 on.
    /// </summary>
    private static JsonObject TinyTokenizer(bool legacyMerges = false, params string[] extraAdded)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar[b].ToString()] = b;
        vocab["Ġt"] = 256;
        vocab["he"] = 257;
        vocab["Ġthe"] = 258;
        vocab["in"] = 259;
        (string, string)[] pairs = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n")];
        var merges = new JsonArray(pairs.Select(p => legacyMerges
            ? (JsonNode)JsonValue.Create(p.Item1 + " " + p.Item2)
            : new JsonArray(p.Item1, p.Item2)).ToArray());

        var added = new JsonArray(AddedToken(260, "<|endoftext|>"));
        for (int i = 0; i < extraAdded.Length; i++) added.Add(AddedToken(261 + i, extraAdded[i]));

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = QwenRegex },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    new JsonObject
                    {
                        ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false,
                    }),
            },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    private static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
        ["normalized"] = false, ["special"] = true,
    };

    private string Write(JsonNode json, string? subdir = null, JsonNode? config = null)
    {
        string dir = subdir is null ? _dir : Path.Combine(_dir, subdir);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        if (config is not null) File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return Path.Combine(dir, "tokenizer.json");
    }

    [Fact]
    public void Applies_merges_byte_level_and_added_tokens()
    {
        var tok = HuggingFaceTokenizer.Load(Write(TinyTokenizer()));
        Assert.Equal([258], tok.Encode(" the"));
        Assert.Equal([116, 257, 32, 259], tok.Encode("the in"));
        Assert.Equal([116, 257, 260, 258], tok.Encode("the<|endoftext|> the"));
        Assert.Equal([0xC3, 0xA9], tok.Encode("e\u0301")); // NFC: é, two UTF-8 bytes
        Assert.Equal("the<|endoftext|> the é", tok.Decode(tok.Encode("the<|endoftext|> the e\u0301")));
    }

    [Fact]
    public void Legacy_string_merges_give_the_same_ids()
    {
        var a = HuggingFaceTokenizer.Load(Write(TinyTokenizer(), "a"));
        var b = HuggingFaceTokenizer.Load(Write(TinyTokenizer(legacyMerges: true), "b"));
        const string text = "the thin thing in the inn";
        Assert.Equal(a.Encode(text), b.Encode(text));
        Assert.Contains(258, b.Encode(text));
    }

    [Fact]
    public void Adds_M_after_the_largest_id_and_it_encodes_as_one_token()
    {
        var tok = HuggingFaceTokenizer.Load(Write(TinyTokenizer()));
        Assert.True(tok.MaskTokenAdded);
        Assert.Equal(261, tok.Special.Mask);
        Assert.Equal(262, tok.VocabSize);
        Assert.Equal([116, 261, 258], tok.Encode("t<M> the"));
        Assert.Equal(260, tok.Special.Eos);
        Assert.Equal(260, tok.Special.Pad);
        Assert.Null(tok.Special.FimPrefix);
        Assert.True(tok.IsSpecial(261));
    }

    [Fact]
    public void Added_mask_must_fit_in_the_embedding_rows()
    {
        string path = Write(TinyTokenizer());
        Assert.Equal(261, HuggingFaceTokenizer.Load(path, embeddingRows: 262).Special.Mask);
        var e = Assert.Throws<ArgumentException>(() => HuggingFaceTokenizer.Load(path, embeddingRows: 261));
        Assert.Contains("261", e.Message);
        Assert.Contains("<M>", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => HuggingFaceTokenizer.Load(path, embeddingRows: 100));
        Assert.Contains("100", e2.Message);
        Assert.Contains("261", e2.Message);
    }

    [Theory]
    [InlineData("<|mask|>")]
    [InlineData("<M>")]
    [InlineData("[MASK]")]
    public void Uses_an_existing_mask_token(string spelling)
    {
        var tok = HuggingFaceTokenizer.Load(Write(TinyTokenizer(false, "<|fim_prefix|>", spelling)), embeddingRows: 263);
        Assert.False(tok.MaskTokenAdded);
        Assert.Equal(262, tok.Special.Mask);
        Assert.Equal(263, tok.VocabSize);
        Assert.Equal(261, tok.Special.FimPrefix);
    }

    [Fact]
    public void Config_chooses_pad_bos_mask_and_eos_when_endoftext_is_absent()
    {
        var json = TinyTokenizer(false, "<pad>", "<s>", "<mymask>");
        json["added_tokens"]!.AsArray()[0]!["content"] = "</s>";
        var config = new JsonObject
        {
            ["eos_token"] = "</s>",
            ["pad_token"] = new JsonObject { ["content"] = "<pad>" },
            ["bos_token"] = "<s>",
            ["mask_token"] = "<mymask>",
        };
        var tok = HuggingFaceTokenizer.Load(Write(json, config: config));
        Assert.Equal(new SpecialTokens { Eos = 260, Pad = 261, Bos = 262, Mask = 263 }, tok.Special);
        Assert.False(tok.MaskTokenAdded);
    }

    [Fact]
    public void Save_then_load_round_trips_with_the_added_mask()
    {
        var tok = HuggingFaceTokenizer.Load(Write(TinyTokenizer()));
        string saved = Path.Combine(_dir, "saved");
        tok.Save(saved);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, "tokenizer.json")))!;
        var addedTokens = json["added_tokens"]!.AsArray();
        Assert.Equal(2, addedTokens.Count);
        Assert.Equal("<M>", (string?)addedTokens[1]!["content"]);
        Assert.Equal(261, (int?)addedTokens[1]!["id"]);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, "tokenizer_config.json")))!;
        Assert.Equal("<M>", (string?)config["mask_token"]);

        var again = Assert.IsType<HuggingFaceTokenizer>(Tokenizers.Load(saved));
        Assert.False(again.MaskTokenAdded);
        Assert.Equal(tok.Name, again.Name);
        Assert.Equal(tok.Special, again.Special);
        Assert.Equal(tok.VocabSize, again.VocabSize);
        Assert.Equal(tok.Encode("the <M> thin<|endoftext|>"), again.Encode("the <M> thin<|endoftext|>"));

        // Saving the reloaded one writes the same bytes again.
        string saved2 = Path.Combine(_dir, "saved2");
        again.Save(saved2);
        Assert.Equal(File.ReadAllBytes(Path.Combine(saved, "tokenizer.json")),
            File.ReadAllBytes(Path.Combine(saved2, "tokenizer.json")));
    }

    [Fact]
    public void Name_depends_on_the_file_content()
    {
        var a = HuggingFaceTokenizer.Load(Write(TinyTokenizer(), "a"));
        var b = HuggingFaceTokenizer.Load(Write(TinyTokenizer(), "b"));
        var c = HuggingFaceTokenizer.Load(Write(TinyTokenizer(legacyMerges: true), "c"));
        Assert.Equal(a.Name, b.Name);
        Assert.NotEqual(a.Name, c.Name);
        Assert.Matches("^hf-bpe:[0-9a-f]{12}$", a.Name);
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "model.type", """{"type":"Unigram"}""" },
        { "pre_tokenizer", "null" },
        { "pre_tokenizer.type", """{"type":"Whitespace"}""" },
        { "pre_tokenizer.pretokenizers", """{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"Isolated","invert":false}]}""" },
        { "normalizer.type", """{"type":"NFKC"}""" },
        { "decoder.type", """{"type":"WordPiece"}""" },
        { "model.ignore_merges", "true" },
        { "model.continuing_subword_prefix", "\"##\"" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Unsupported_tokenizer_json_names_the_file_and_field(string field, string value)
    {
        var json = TinyTokenizer();
        var replacement = JsonNode.Parse(value);
        switch (field)
        {
            case "model.type": json["model"]!["type"] = "Unigram"; break;
            case "pre_tokenizer" or "pre_tokenizer.type" or "pre_tokenizer.pretokenizers": json["pre_tokenizer"] = replacement; break;
            case "normalizer.type": json["normalizer"] = replacement; break;
            case "decoder.type": json["decoder"] = replacement; break;
            case "model.ignore_merges": json["model"]!["ignore_merges"] = replacement; break;
            case "model.continuing_subword_prefix": json["model"]!["continuing_subword_prefix"] = replacement; break;
        }
        string path = Write(json);
        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"\"{field}\"", e.Message);
    }

    [Fact]
    public void Invalid_json_and_missing_model_are_invalid_data()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(_dir));
        Assert.Contains("tokenizer.json", e.Message);

        var json = TinyTokenizer();
        json.Remove("model");
        string path = Write(json);
        var e2 = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(path));
        Assert.Contains("\"model\"", e2.Message);

        Assert.Throws<FileNotFoundException>(() => HuggingFaceTokenizer.Load(Path.Combine(_dir, "nope.json")));
    }

    /// <summary>
    /// Decode(Encode(s)) is NFC(s) for any string; lone surrogates (which UTF-8 cannot hold) become U+FFFD first,
    /// as they would on the way into the Rust/JS tokenizers.
    /// </summary>
    [Property(MaxTest = 200)]
    public bool Round_trips_arbitrary_strings_up_to_NFC(string? s)
    {
        s ??= "";
        var tok = Tiny.Value;
        string expected = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)).Normalize(NormalizationForm.FormC);
        return tok.Decode(tok.Encode(s)) == expected;
    }

    [Theory]
    [InlineData("\uD800")]
    [InlineData("a\uDC00b\uD83D")]
    [InlineData("\uD83D\uDE00 e\u0301\u0323 \u212B")] // emoji, NFD with two marks, Angstrom sign
    [InlineData("\u0000\u0001\u007F\u0085\u2028")]
    public void Round_trips_awkward_strings_up_to_NFC(string s) => Assert.True(Round_trips_arbitrary_strings_up_to_NFC(s));

    private static readonly Lazy<HuggingFaceTokenizer> Tiny = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "opendllm-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(path, TinyTokenizer().ToJsonString());
            return HuggingFaceTokenizer.Load(path); // keeps the file's bytes in memory
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    });
}
