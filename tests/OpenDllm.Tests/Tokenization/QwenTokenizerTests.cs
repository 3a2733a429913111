using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Tokenization;

/// <summary>Known facts about the Qwen3 tokenizer.json (PLATFORM.md §4, SPEC §2.1).</summary>
[Collection(QwenTokenizerCollection.Name)]
public sealed class QwenTokenizerTests(QwenTokenizerFixture qwen)
{
    [Fact]
    public void Hello_world_has_the_known_ids() =>
        Assert.Equal([9707, 1879], qwen.Tokenizer.Encode("Hello world"));

    [Fact]
    public void Special_ids_are_the_known_ones()
    {
        var s = qwen.Tokenizer.Special;
        Assert.Equal(151643, s.Eos);
        Assert.Equal(151643, s.Pad); // tokenizer_config pad_token is <|endoftext|>
        Assert.Null(s.Bos);
        Assert.Equal(151659, s.FimPrefix);
        Assert.Equal(151660, s.FimMiddle);
        Assert.Equal(151661, s.FimSuffix);
        Assert.Equal([151643], qwen.Tokenizer.Encode("<|endoftext|>"));
        Assert.Equal([151659, 151660, 151661], qwen.Tokenizer.Encode("<|fim_prefix|><|fim_middle|><|fim_suffix|>"));
    }

    [Fact]
    public void Mask_is_added_as_M_after_the_last_added_token()
    {
        var tok = qwen.Tokenizer;
        Assert.True(tok.MaskTokenAdded);
        Assert.Equal(151669, tok.Special.Mask);
        Assert.Equal(151670, tok.VocabSize);
        Assert.Equal("<M>", tok.IdToToken(151669));
        Assert.Equal([87, 151669, 88], tok.Encode("x<M>y"));
        Assert.StartsWith("hf-bpe:", tok.Name);
        Assert.Equal("hf-bpe:".Length + 12, tok.Name.Length);
    }

    [Fact]
    public void Special_ids_are_distinct_except_pad_and_eos_and_below_vocab_size()
    {
        var s = qwen.Tokenizer.Special;
        var ids = s.All().Where(x => x.Name != nameof(SpecialTokens.Pad)).Select(x => x.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(s.All(), x => Assert.InRange(x.Id, 0, qwen.Tokenizer.VocabSize - 1));
    }

    [Fact]
    public void Skip_special_tokens_drops_specials_but_keeps_non_special_added_tokens()
    {
        var tok = qwen.Tokenizer;
        // <|im_start|> is "special": true in tokenizer.json; the FIM markers are not, but are SpecialTokens ids;
        // <think> and <|file_sep|> are neither, so they stay.
        const string text = "<|im_start|><|fim_prefix|>a<think>b<|file_sep|><|fim_middle|><|endoftext|><M>";
        var ids = tok.Encode(text);
        Assert.Equal("a<think>b<|file_sep|>", tok.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Decode_never_throws_and_skips_unknown_ids()
    {
        var tok = qwen.Tokenizer;
        // 151935 is a padded embedding row with no token; -1 is not an id.
        Assert.Equal("Hello", tok.Decode([9707, 151935, -1, int.MaxValue]));
        // "â" is the byte-level spelling of the single byte 0xE2, a UTF-8 lead byte with nothing after it.
        int lone = tok.TokenToId("â") ?? throw new InvalidOperationException("no single-byte token for 0xE2");
        Assert.Equal("\uFFFDHello", tok.Decode([lone, 9707]));
        Assert.Equal("€", tok.Decode(tok.Encode("€")));
    }

    [Fact]
    public void Embedding_rows_too_small_for_the_added_mask_is_an_error_naming_both_numbers()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            HuggingFaceTokenizer.Load(TokenizerTestPaths.QwenTokenizerJson, embeddingRows: 151_669));
        Assert.Contains("151669", e.Message);
        Assert.Contains("<M>", e.Message);
    }

    [Fact]
    public void Save_then_load_keeps_name_ids_and_specials()
    {
        var tok = qwen.Tokenizer;
        string dir = Path.Combine(Path.GetTempPath(), "opendllm-tok-" + Guid.NewGuid().ToString("N"));
        try
        {
            tok.Save(dir);
            var again = Assert.IsType<HuggingFaceTokenizer>(Tokenizers.Load(dir));
            Assert.Equal(tok.Name, again.Name);
            Assert.Equal(tok.Special, again.Special);
            Assert.Equal(tok.VocabSize, again.VocabSize);
            Assert.False(again.MaskTokenAdded); // <M> is now in added_tokens and mask_token
            const string text = "def f(x):\n    return x<M> + 1  # 中文 <|endoftext|>";
            Assert.Equal(tok.Encode(text), again.Encode(text));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
