using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Tests.Data;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sft;

/// <summary>
/// Prompt/response examples through <see cref="CorpusPreparer"/> and <see cref="PackedLoader"/> in
/// <see cref="PackingMode.Examples"/>: prompt lengths stored, long examples dropped and counted, named splits kept, one
/// example per row, EOS padding visible and labelled EOS, prompt positions marked.
/// </summary>
public sealed class SftPrepareTests : IDisposable
{
    readonly DataTemp _temp = new();
    static readonly int Eos = ByteTokenizer.Instance.Special.Eos;

    public void Dispose() => _temp.Dispose();

    static Document Example(string id, string prompt, string response, string? split = null) => new(id, response, prompt, split);

    TokenShardSet Prepare(IReadOnlyList<Document> docs, int? maxTokens, out ShardManifest manifest, long shardTokens = 1 << 20)
    {
        manifest = CorpusPreparer.Prepare(new ListCorpus(docs), ByteTokenizer.Instance, _temp.Combine("s"),
            new PrepareOptions { ValidationFraction = 0.5, MaxExampleTokens = maxTokens, ShardTokens = shardTokens });
        return TokenShardSet.Open(_temp.Combine("s"));
    }

    [Fact]
    public void StoresPromptLengthsHonoursNamedSplitsAndDropsLongExamples()
    {
        var docs = new List<Document>
        {
            Example("a", "abc", "de", DocumentSplit.Train),      // 3 + 2 + EOS = 6
            Example("b", "x", "yz", DocumentSplit.Validation),   // 4
            Example("c", "long prompt", "and long answer", DocumentSplit.Train),   // 27 > 10: dropped
            Example("d", "", "q", DocumentSplit.Train),           // an empty prompt: 0 prompt tokens
        };
        using var set = Prepare(docs, maxTokens: 10, out var manifest, shardTokens: 4);

        Assert.Equal(1, manifest.Corpus.SkippedTooLong);
        Assert.Equal(10, manifest.Settings.MaxExampleTokens);
        Assert.Equal(2, set.Train.DocumentCount);
        Assert.Equal(1, set.Validation.DocumentCount);
        Assert.True(set.Train.HasPrompts);
        Assert.Equal([3, 0], new[] { set.Train.PromptLength(0), set.Train.PromptLength(1) });
        Assert.Equal(1, set.Validation.PromptLength(0));
        Assert.All(manifest.Splits.Values.SelectMany(s => s.Shards), e => Assert.NotNull(e.PromptsFile));
        Assert.Equal("abcde", ByteTokenizer.Instance.Decode(set.Train.ReadDocument(0).SkipLast(1)));
        // the prompt files belong to the folder: preparing again may replace it
        Assert.Empty(PreparedData.ForeignEntries(_temp.Combine("s")));
    }

    [Fact]
    public void PlainDocumentsWriteNoPromptFiles()
    {
        var manifest = CorpusPreparer.Prepare(ListCorpus.Numbered(6), ByteTokenizer.Instance, _temp.Combine("p"), new PrepareOptions { ValidationFraction = 0.3 });
        Assert.All(manifest.Splits.Values.SelectMany(s => s.Shards), e => Assert.Null(e.PromptsFile));
        Assert.DoesNotContain("prompts", File.ReadAllText(_temp.Combine("p", ShardManifest.FileName)));
        Assert.DoesNotContain("max_example_tokens", File.ReadAllText(_temp.Combine("p", ShardManifest.FileName)));
        using var set = TokenShardSet.Open(_temp.Combine("p"));
        Assert.False(set.Train.HasPrompts);
    }

    [Fact]
    public void AllExamplesTooLongIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => Prepare([Example("a", "abcdef", "ghijkl")], maxTokens: 4, out _));
        Assert.Contains("longer than 4 tokens", e.Message);
    }

    [Fact]
    public void ExamplesBatchHasOneExamplePerRowVisibleEosPaddingAndThePromptMarked()
    {
        var docs = Enumerable.Range(0, 5).Select(i => Example($"e{i}", new string('p', i + 1), new string('r', 2 * i + 1), DocumentSplit.Train)).ToList();
        docs.Add(Example("v", "pp", "rr", DocumentSplit.Validation));
        using var set = Prepare(docs, maxTokens: 16, out _);
        const int length = 16;
        var loader = new PackedLoader(set.Train, batchSize: 5, sequenceLength: length, PackingMode.Examples, seed: 3);

        Assert.Equal(5, loader.SequencesPerEpoch);
        using var batch = loader.Next();
        var tokens = batch.Tokens.data<long>().ToArray();
        var prompt = batch.Prompt!.data<bool>().ToArray();
        var seen = new HashSet<int>();
        for (int r = 0; r < 5; r++)
        {
            var row = tokens.Skip(r * length).Take(length).ToArray();
            int p = row.TakeWhile(t => t == 'p').Count();
            seen.Add(p - 1);
            int n = p + 2 * (p - 1) + 1 + 1;                                        // prompt + response + EOS
            Assert.All(row.Skip(p).Take(n - p - 1), t => Assert.Equal('r', t));
            Assert.All(row.Skip(n - 1), t => Assert.Equal(Eos, t));                  // EOS then EOS padding to L
            Assert.Equal(Enumerable.Range(0, length).Select(i => i < p), prompt.Skip(r * length).Take(length));
        }
        Assert.Equal([0, 1, 2, 3, 4], seen.Order());                                  // every example once, one per row
        Assert.True(batch.KeyPadding.all().item<bool>());                            // the padding is visible
        Assert.Equal(0, batch.PaddingTokens);
        Assert.Equal(Enumerable.Range(0, length).Select(i => (long)i), batch.PositionIds[0].data<long>().ToArray());
        var input = batch.ToModelInput(AttentionPolicy.Bidirectional);
        Assert.Null(input.KeyPadding);                                                // no attention mask at all
        Assert.Null(input.DocumentIds);
    }

    [Fact]
    public void ExamplesLongerThanTheSequenceAreRefusedByTheLoader()
    {
        using var set = Prepare([Example("a", "abcdef", "ghijkl", DocumentSplit.Train), Example("b", "x", "y", DocumentSplit.Validation)], null, out _);
        var e = Assert.Throws<InvalidOperationException>(() => new PackedLoader(set.Train, 1, 8, PackingMode.Examples));
        Assert.Contains("13 tokens", e.Message);
    }

    [Fact]
    public void PlainDataInExamplesModeHasNoPromptMask()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(4), ByteTokenizer.Instance, _temp.Combine("p"), new PrepareOptions { ValidationFraction = 0 });
        using var set = TokenShardSet.Open(_temp.Combine("p"));
        using var batch = new PackedLoader(set.Train, 2, 64, PackingMode.Examples).Next();
        Assert.Null(batch.Prompt);
    }

    [Fact]
    public void ACorruptPromptsFileIsNamed()
    {
        using (Prepare([Example("a", "abc", "de", DocumentSplit.Train), Example("b", "x", "y", DocumentSplit.Validation)], null, out var manifest)) { }
        var path = _temp.Combine("s", "train-00000.prompts");
        File.WriteAllBytes(path, BitConverter.GetBytes(99));
        var e = Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(_temp.Combine("s")));
        Assert.Contains(path, e.Message);
        Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(_temp.Combine("s"), verify: false));   // 99 ≥ the document's length
    }
}
