using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.Models;
using OpenDllm.Tests.Data;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>
/// A batch without padding and without a document boundary needs no attention mask: the model input carries neither key
/// padding nor document ids, so no [B, 1, L, L] mask is built and SDPA may use its fused kernel.
/// </summary>
public sealed class AttentionMaskSkipTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void ABatchWithoutPaddingOrBoundariesBuildsNoMask()
    {
        using var single = ValidationNelboTests.Batch(rows: 2, length: 8, documentLength: 8, vocab: 32, seed: 1);
        Assert.False(single.HasDocumentBoundaries);
        var input = single.ToModelInput(AttentionPolicy.Bidirectional);
        Assert.Null(input.KeyPadding);
        Assert.Null(input.DocumentIds);
        Assert.Null(AttentionMaskBuilder.Build(AttentionPolicy.Bidirectional, 8, 8, 0, CPU, input.KeyPadding, input.DocumentIds, input.DocumentIds));

        using var packed = ValidationNelboTests.Batch(rows: 2, length: 8, documentLength: 4, vocab: 32, seed: 1);
        Assert.True(packed.HasDocumentBoundaries);
        Assert.NotNull(packed.ToModelInput(AttentionPolicy.Bidirectional).DocumentIds);
    }

    /// <summary>The loader's flag is exact: a batch has boundaries iff some row holds two documents (document id &gt; 0).</summary>
    [Theory]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(64)]
    public void TheLoaderFlagsBoundariesExactlyWhenARowHoldsTwoDocuments(int length)
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(30), ByteTokenizer.Instance, _temp.Combine("shards"),
            new PrepareOptions { ValidationFraction = 0.2, ShardTokens = 100 });
        using var set = TokenShardSet.Open(_temp.Combine("shards"));
        int with = 0, without = 0;
        foreach (var mode in new[] { PackingMode.Documents, PackingMode.Chunks })
            foreach (var batch in new PackedLoader(set.Train, batchSize: 2, sequenceLength: length, mode).InOrder())
                using (batch)
                {
                    bool twoDocuments = batch.DocumentIds.max().item<long>() > 0;
                    if (mode == PackingMode.Documents) Assert.Equal(twoDocuments, batch.HasDocumentBoundaries);
                    else Assert.False(batch.HasDocumentBoundaries);
                    if (mode == PackingMode.Documents) _ = batch.HasDocumentBoundaries ? with++ : without++;
                    Assert.Equal(mode == PackingMode.Documents && twoDocuments, batch.ToModelInput(AttentionPolicy.Causal).DocumentIds is not null);
                }
        Assert.True(with > 0, "some batch should hold a boundary");
        if (length == 4) Assert.True(without > 0, "short rows should often hold one document");
    }

    /// <summary>Dropping the document ids of single-document rows is exact: the output is the same as with them.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DocumentIdsOfSingleDocumentRowsDoNotChangeTheOutput(bool causal)
    {
        using var scope = NewDisposeScope();
        using var model = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 3);
        var tokens = randint(0, 98, new long[] { 2, 12 }, generator: new Generator(4));
        var policy = causal ? AttentionPolicy.Causal : AttentionPolicy.Bidirectional;
        var plain = model.forward(new ModelInput(tokens, policy)).Logits;
        var withIds = model.forward(new ModelInput(tokens, policy, DocumentIds: zeros_like(tokens))).Logits;
        Assert.True(plain.allclose(withIds, 1e-5, 1e-6));
    }
}
