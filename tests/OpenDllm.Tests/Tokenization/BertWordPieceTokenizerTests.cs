using OpenDllm.Tests.Models.Bert;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Tokenization;

/// <summary>
/// The WordPiece tokenizer on MiniLM's real vocab.txt. Expected pieces are written from Hugging Face BertTokenizer's rules
/// (lowercase, strip accents, split punctuation, CJK characters alone, greedy longest-match WordPiece) and looked up in the
/// vocabulary, an independent check of the ids.
/// </summary>
public sealed class BertWordPieceTokenizerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-wordpiece-").FullName;
    static readonly Lazy<BertWordPieceTokenizer> Tokenizer = new(() => BertWordPieceTokenizer.FromVocab(MiniLmFixture.VocabPath));
    static readonly Lazy<string[]> Vocab = new(() => File.ReadAllLines(MiniLmFixture.VocabPath));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static int[] Ids(params string[] pieces) => pieces.Select(p => Array.IndexOf(Vocab.Value, p)).ToArray();

    [Theory]
    [InlineData("The quick brown fox.", new[] { "the", "quick", "brown", "fox", "." })]
    [InlineData("Héllo, Wörld!", new[] { "hello", ",", "world", "!" })]
    [InlineData("unaffable", new[] { "una", "##ffa", "##ble" })]      // greedy longest match first
    [InlineData("中文字", new[] { "中", "文", "[UNK]" })]              // 字 is not in the vocabulary
    [InlineData("don't stop", new[] { "don", "'", "t", "stop" })]
    [InlineData("a [MASK] here", new[] { "a", "[MASK]", "here" })]
    public void EncodesAsHuggingFaceBertTokenizerDoes(string text, string[] pieces)
    {
        var expected = Ids(pieces);
        Assert.DoesNotContain(-1, expected);
        Assert.Equal(expected, Tokenizer.Value.Encode(text));
    }

    [Fact]
    public void SpecialsAreTheBertOnesAndNoClsOrSepIsAdded()
    {
        var t = Tokenizer.Value;
        Assert.Equal((103, 102, 0, 101), (t.Special.Mask, t.Special.Eos, t.Special.Pad, t.Special.Bos!.Value));
        Assert.Equal(30522, t.VocabSize);
        Assert.DoesNotContain(101, t.Encode("hello world"));
        Assert.StartsWith("wordpiece:", t.Name);
        Assert.Equal("hello world", t.Decode(t.Encode("Hello world")));
        Assert.Equal("hello", t.Decode([101, 7592, 102, -5, 999999], skipSpecialTokens: true));
    }

    [Fact]
    public void SaveWritesWhatTokenizersLoadRecognises()
    {
        Tokenizer.Value.Save(_dir);
        var loaded = Tokenizers.Load(_dir);
        Assert.IsType<BertWordPieceTokenizer>(loaded);
        Assert.Equal(Tokenizer.Value.Name, loaded.Name);
        Assert.Equal(File.ReadAllBytes(MiniLmFixture.VocabPath), File.ReadAllBytes(Path.Combine(_dir, "vocab.txt")));
        Assert.Equal(Tokenizer.Value.Encode("Héllo, 中文 unaffable!"), loaded.Encode("Héllo, 中文 unaffable!"));
    }

    [Fact]
    public void TheConvertedMiniLmFolderLoadsAsTheWordPieceTokenizer() =>
        Assert.Equal(Tokenizer.Value.Name, Tokenizers.Load(MiniLmFixture.HfDirectory).Name);
}
