using System.Text;
using FsCheck.Xunit;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Tokenization;

public sealed class ByteTokenizerTests
{
    private static readonly ByteTokenizer Tok = ByteTokenizer.Instance;

    /// <summary>Decode(Encode(s)) is s, with lone surrogates turned into U+FFFD as UTF-8 encoding does.</summary>
    [Property(MaxTest = 300)]
    public bool Round_trips_arbitrary_strings(string? s)
    {
        s ??= "";
        string expected = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
        return Tok.Decode(Tok.Encode(s)) == expected;
    }

    [Property(MaxTest = 200)]
    public bool Round_trips_strings_with_special_tokens_mixed_in(string? a, string? b)
    {
        string s = (a ?? "") + "<|fim_prefix|>" + (b ?? "") + "<|mask|><|endoftext|><|";
        string expected = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
        return Tok.Decode(Tok.Encode(s)) == expected;
    }

    [Property(MaxTest = 300)]
    public bool Decode_never_throws_on_arbitrary_ids(int[]? ids)
    {
        _ = Tok.Decode(ids ?? []);
        _ = Tok.Decode(ids ?? [], skipSpecialTokens: true);
        return true;
    }

    [Fact]
    public void Layout_is_bytes_then_specials()
    {
        Assert.Equal(262, Tok.VocabSize);
        Assert.Equal("byte-v1", Tok.Name);
        Assert.Equal([72, 105], Tok.Encode("Hi"));
        Assert.Equal([0xE2, 0x82, 0xAC], Tok.Encode("€"));
        Assert.Equal([256], Tok.Encode("<|endoftext|>"));
        Assert.Equal([259, 97, 261, 98, 260], Tok.Encode("<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"));
        Assert.Equal([60, 124, 109, 97, 115, 107, 124], Tok.Encode("<|mask|")); // incomplete: plain bytes
        Assert.Equal(258, Tok.Special.Mask);
        Assert.Equal(257, Tok.Special.Pad);
        Assert.Null(Tok.Special.Bos);
    }

    [Fact]
    public void Special_ids_are_distinct_and_below_vocab_size()
    {
        var ids = Tok.Special.All().Select(x => x.Id).ToList();
        Assert.Equal(6, ids.Count);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.InRange(id, 256, Tok.VocabSize - 1));
    }

    [Fact]
    public void Invalid_utf8_decodes_to_replacement_characters()
    {
        Assert.Equal("\uFFFD", Tok.Decode([0xE2, 0x82])); // truncated €
        Assert.Equal("a\uFFFDb", Tok.Decode([97, 0xFF, 98]));
        Assert.Equal("\uFFFD<|endoftext|>", Tok.Decode([0xC3, 256]));
        Assert.Equal("ab", Tok.Decode([97, -5, 262, 98, 1000]));
        Assert.Equal("ab", Tok.Decode([97, 258, 98, 256], skipSpecialTokens: true));
    }

    [Fact]
    public void Save_then_load_gives_the_byte_tokenizer()
    {
        string dir = Path.Combine(Path.GetTempPath(), "opendllm-tok-" + Guid.NewGuid().ToString("N"));
        try
        {
            Tok.Save(dir);
            Assert.True(File.Exists(Path.Combine(dir, "tokenizer_config.json")));
            Assert.Contains("\"OpenDllmByteTokenizer\"", File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")));
            var again = Tokenizers.Load(dir);
            Assert.IsType<ByteTokenizer>(again);
            Assert.Equal(Tok.Name, again.Name);
            Assert.Equal(Tok.Special, again.Special);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_of_a_folder_without_tokenizer_files_fails_clearly()
    {
        string dir = Path.Combine(Path.GetTempPath(), "opendllm-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Throws<FileNotFoundException>(() => Tokenizers.Load(dir));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"tokenizer_class\": \"LlamaTokenizer\"}");
            var e = Assert.Throws<InvalidDataException>(() => Tokenizers.Load(dir));
            Assert.Contains("tokenizer_class", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
