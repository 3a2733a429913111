using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Methods.Bd3lm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Bd3lm;

/// <summary>BD3LM training (SPEC §4): the 2L input, the §4.1 mask, per-block times, targets and EOS block padding.</summary>
public sealed class Bd3lmMethodTests
{
    const int Vocab = 262, MaskId = 258;

    static Qwen2Model Model() => new Qwen2Model(ModelConfig.Tiny with { VocabSize = Vocab, MaskTokenId = MaskId }).InitializeWeights(3);

    static Bd3lmMethod Method(Qwen2Model model, int seqLen, Bd3lmOptions options, string packing = "documents") =>
        new(new TrainingMethodContext(
            new Recipe { Data = new DataSection { SeqLen = seqLen, Packing = packing }, Train = new TrainSection { Objective = "bd3lm", Bd3lm = options } },
            model, ByteTokenizer.Instance));

    static long[] Row(Tensor x, int row) => x[row].to(ScalarType.Int64).data<long>().ToArray();

    /// <summary>§4.1 for n = 4, b = 2, written out by hand: rows are queries 0..7 (x_t 0–3, x_0 4–7), columns keys.</summary>
    [Fact]
    public void TheAttentionMaskIsSection41ForASmallCase()
    {
        int[,] expected =
        {
            { 1, 1, 0, 0, 0, 0, 0, 0 },   // x_t block 0: its own block, no earlier clean block
            { 1, 1, 0, 0, 0, 0, 0, 0 },
            { 0, 0, 1, 1, 1, 1, 0, 0 },   // x_t block 1: its own block + clean block 0 (strictly earlier)
            { 0, 0, 1, 1, 1, 1, 0, 0 },
            { 0, 0, 0, 0, 1, 1, 0, 0 },   // x_0 block 0: block-causal within the clean half
            { 0, 0, 0, 0, 1, 1, 0, 0 },
            { 0, 0, 0, 0, 1, 1, 1, 1 },   // x_0 block 1
            { 0, 0, 0, 0, 1, 1, 1, 1 },
        };
        using var allowed = AttentionPolicy.BlockDiffusion(2).Allowed(8, 8, 0, CPU)!;
        for (int q = 0; q < 8; q++)
            for (int k = 0; k < 8; k++)
                Assert.True(expected[q, k] == 1 == allowed[q, k].item<bool>(), $"query {q}, key {k}");
    }

    [Fact]
    public void BothHalvesShareThePositionsAndTheInputIsNoisyThenClean()
    {
        using var scope = NewDisposeScope();
        using var batch = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 16, vocab: 60, seed: 1);
        var layout = BlockLayout.Unpadded(batch);
        var noisy = full_like(batch.Tokens, MaskId);
        var input = layout.ConcatInput(noisy, blockSize: 4);
        Assert.Equal([2L, 32L], input.Tokens.shape);
        Assert.True(input.PositionIds!.narrow(1, 0, 16).eq(batch.PositionIds).all().item<bool>());
        Assert.True(input.PositionIds!.narrow(1, 16, 16).eq(batch.PositionIds).all().item<bool>());
        Assert.True(input.Tokens.narrow(1, 0, 16).eq(noisy).all().item<bool>());
        Assert.True(input.Tokens.narrow(1, 16, 16).eq(batch.Tokens).all().item<bool>());
        Assert.Equal(new BlockDiffusionAttention(4), input.Attention);
    }

    /// <summary>
    /// Only the x_t half is scored: the method's loss equals the dense MDLM loss of the first L rows of the 2L forward's
    /// logits (same seed, same t and masks), and differs from the same loss read off the x_0 half.
    /// </summary>
    [Fact]
    public void OnlyTheNoisyHalfIsScored()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.eval();
        var method = Method(model, 16, new Bd3lmOptions { BlockSize = 4 });
        using var batch = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 8, vocab: 60, seed: 2);
        double loss;
        using (no_grad()) loss = method.Loss(batch, new Generator(5)).Loss.item<float>();

        // the same draws by hand: layout, t per block, x_t, the 2L forward, dense logits of each half
        var generator = new Generator(5);
        var layout = method.Layout(batch);
        var t = method.TrainingTimes(layout, generator);
        var targets = method.Targets(layout);
        var noisy = ForwardMasking.Apply(layout.Tokens, t, new LinearSchedule(), MaskId, targets, generator);
        Tensor logits;
        using (no_grad()) logits = model.forward(layout.ConcatInput(noisy.Tokens, 4)).Logits;              // [B, 2L, V]
        var options = new MdlmLossOptions { Normalization = LossNormalization.MaskableTokens, MaskTokenId = MaskId };
        double noisyHalf = MdlmLoss.Compute(logits.narrow(1, 0, 16), layout.Tokens, noisy.Masked, t, options, targets).Loss.item<float>();
        double cleanHalf = MdlmLoss.Compute(logits.narrow(1, 16, 16), layout.Tokens, noisy.Masked, t, options, targets).Loss.item<float>();
        Assert.True(noisy.Masked.any().item<bool>());
        Assert.Equal(noisyHalf, loss, 4);
        Assert.NotEqual(cleanHalf, loss, 2);
    }

    [Fact]
    public void PerBlockAntitheticTimesAreConstantWithinABlockAndStratifiedAcrossBlocks()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var method = Method(model, 32, new Bd3lmOptions { BlockSize = 8, NoiseInterval = [0.2, 0.7] }, packing: "chunks");
        using var batch = ValidationNelboTests.Batch(rows: 3, length: 32, documentLength: 32, vocab: 60, seed: 3);
        var t = method.TrainingTimes(method.Layout(batch), new Generator(9)).to(ScalarType.Float64);     // [3, 32]
        var blocks = t.view(3, 4, 8);
        Assert.True(blocks.eq(blocks.narrow(2, 0, 1)).all().item<bool>());                               // constant within a block
        var perBlock = blocks.select(2, 0).flatten().data<double>().ToArray();                            // 12 blocks, row-major
        for (int j = 0; j < perBlock.Length; j++)                                                         // block j in stratum j of [β, ω]
            Assert.InRange(perBlock[j], 0.2 + 0.5 * j / 12 - 1e-6, 0.2 + 0.5 * (j + 1) / 12 + 1e-6);
    }

    [Fact]
    public void PerSequenceTimesShareOneTPerRowInsideTheInterval()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var options = new Bd3lmOptions { BlockSize = 4, TimeSampling = Bd3lmTimeSampling.PerSequence, NoiseInterval = [0.3, 0.6] };
        var method = Method(model, 16, options, packing: "chunks");
        using var batch = ValidationNelboTests.Batch(rows: 64, length: 16, documentLength: 16, vocab: 60, seed: 4);
        var t = method.TrainingTimes(method.Layout(batch), new Generator(1)).to(ScalarType.Float64);
        Assert.True(t.eq(t.narrow(1, 0, 1)).all().item<bool>());
        Assert.True((t >= 0.3).all().item<bool>() && (t < 0.6 + 1e-7).all().item<bool>());
    }

    [Fact]
    public void ValidationTimesUseTheFullIntervalWhateverTrainingClips()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var method = Method(model, 64, new Bd3lmOptions { BlockSize = 4, NoiseInterval = [0.4, 0.5] }, packing: "chunks");
        using var batch = ValidationNelboTests.Batch(rows: 8, length: 64, documentLength: 64, vocab: 60, seed: 5);
        var t = method.ValidationTimes(method.Layout(batch), new Generator(2));
        Assert.True(t.min().item<float>() < 0.1 && t.max().item<float>() > 0.9);
        Assert.True(t.min().item<float>() >= Bd3lmMethod.ValidationEpsilon - 1e-7);
    }

    [Fact]
    public void BosIsNeverMaskedNorATarget()
    {
        using var scope = NewDisposeScope();
        const long bos = 7;
        var tokens = tensor(new long[] { 7, 1, 2, 3, 7, 4, 5, 6 }).view(1, 8);
        var layout = new BlockLayout(tokens, arange(8, dtype: ScalarType.Int64).view(1, 8), null, ones(1, 8, dtype: ScalarType.Bool),
                                     false, zeros(1, 8, dtype: ScalarType.Bool), ones(1, 8, dtype: ScalarType.Bool));
        var targets = Bd3lmMethod.Targets(layout, bos);
        Assert.Equal([0L, 1, 1, 1, 0, 1, 1, 1], Row(targets, 0));
        var noisy = ForwardMasking.Apply(tokens, ones(1, 8), new LinearSchedule(), MaskId, targets, new Generator(1));   // t = 1: all targets masked
        Assert.Equal([7L, MaskId, MaskId, MaskId, 7, MaskId, MaskId, MaskId], Row(noisy.Tokens, 0));
    }

    /// <summary>Documents of 3 and 5 tokens in a row of 8, b = 4: [a b c EOS | d e f g], h dropped; a row of 2 tokens then padding.</summary>
    [Fact]
    public void EosBlockPaddingAlignsDocumentsToBlocksAsDllmDoes()
    {
        using var scope = NewDisposeScope();
        const long eos = 99;
        var tokens = tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, /**/ 11, 12, 0, 0, 0, 0, 0, 0 }).view(2, 8);
        var positions = tensor(new long[] { 0, 1, 2, 0, 1, 2, 3, 4, /**/ 0, 1, 0, 0, 0, 0, 0, 0 }).view(2, 8);
        var documents = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, /**/ 0, 0, -1, -1, -1, -1, -1, -1 }).view(2, 8);
        var real = documents >= 0;
        var layout = EosBlockPadding.Apply(tokens, positions, documents, real, blockSize: 4, eos);
        Assert.Equal([1L, 2, 3, eos, 4, 5, 6, 7], Row(layout.Tokens, 0));
        Assert.Equal([0L, 1, 2, 3, 0, 1, 2, 3], Row(layout.PositionIds, 0));
        Assert.Equal([0L, 0, 0, 0, 1, 1, 1, 1], Row(layout.DocumentIds!, 0));
        Assert.Equal([0L, 0, 0, 1, 0, 0, 0, 0], Row(layout.EosPads, 0));
        Assert.Equal([1L, 1, 1, 0, 1, 1, 1, 1], Row(layout.Original, 0));
        Assert.Equal([11L, 12, eos, eos, eos, eos, eos, eos], Row(layout.Tokens, 1));
        Assert.Equal([1L, 1, 1, 1, 0, 0, 0, 0], Row(layout.KeyPadding, 1));
        Assert.Equal([0L, 0, 1, 1, 0, 0, 0, 0], Row(layout.EosPads, 1));
        Assert.Equal([0L, 0, 0, 0, -1, -1, -1, -1], Row(layout.DocumentIds!, 1));
    }

    [Fact]
    public void TheBoundIsFiniteAndCoversTheLoadersTokens()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.eval();
        var method = Method(model, 16, new Bd3lmOptions { BlockSize = 4 });
        using var batch = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 6, vocab: 60, seed: 6);
        BoundTerms terms;
        using (no_grad()) terms = method.Bound(batch, new Generator(1));
        var layout = method.Layout(batch);
        Assert.Equal(layout.Original.sum().item<long>(), terms.Tokens.item<long>());
        Assert.True(terms.Tokens.item<long>() < 32);                                    // documents of 6 in blocks of 4 push tokens out
        Assert.True(double.IsFinite(terms.Nats.item<double>()) && terms.Nats.item<double>() > 0);
    }

    [Fact]
    public void AShiftedModelIsRefusedNamingTheKey()
    {
        using var model = new Qwen2Model(ModelConfig.Tiny with { VocabSize = Vocab, MaskTokenId = MaskId, ShiftedLogits = true });
        var e = Assert.Throws<ArgumentException>(() => Method(model, 16, new Bd3lmOptions { BlockSize = 4 }));
        Assert.Contains("model.shifted_logits", e.Message);
    }

    [Theory]
    [InlineData("--data.seq_len=30", "data.seq_len")]
    [InlineData("--train.bd3lm.noise_interval=[0.6, 0.5]", "train.bd3lm.noise_interval")]
    [InlineData("--train.bd3lm.noise_interval=[0, 1]", "train.bd3lm.noise_interval")]
    [InlineData("--train.bd3lm.block_size=0", "train.bd3lm.block_size")]
    [InlineData("--train.bd3lm.time_sampling=per_token", "per_block_antithetic")]
    public void BadOptionsAreErrorsNamingTheKey(string option, string named)
    {
        const string yaml = "model: {preset: tiny}\ndata: {seq_len: 32}\ntrain: {objective: bd3lm, bd3lm: {block_size: 8}}";
        var e = Assert.ThrowsAny<Exception>(() => Recipe.Parse(yaml, "r.yaml", [option]));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void ARecipeBindsTheBd3lmOptions()
    {
        const string yaml = "model: {preset: tiny}\ndata: {seq_len: 32}\ntrain: {objective: bd3lm, bd3lm: {block_size: 8, time_sampling: per_sequence, noise_interval: [0.3, 0.8], eos_block_padding: false}}";
        var o = Recipe.Parse(yaml, "r.yaml").Train.Bd3lm;
        Assert.Equal(8, o.BlockSize);
        Assert.Equal(Bd3lmTimeSampling.PerSequence, o.TimeSampling);
        Assert.Equal((0.3, 0.8), (o.Beta, o.Omega));
        Assert.False(o.EosBlockPadding);
    }
}

/// <summary>The variance-minimising interval search (SPEC §4.2).</summary>
public sealed class NoiseIntervalSearchTests
{
    [Fact]
    public void CandidatesCoverEachWidthOnTheGrid()
    {
        var c = NoiseIntervalSearch.Candidates([0.5, 0.9], delta: 0.25);
        Assert.Equal([(0.001, 0.501), (0.25, 0.75), (0.5, 1.0), (0.001, 0.901)], c.Select(x => (Math.Round(x.Beta, 6), Math.Round(x.Omega, 6))));
    }

    [Fact]
    public void TheSearchIsDeterministicSortedAndFinite()
    {
        using var scope = NewDisposeScope();
        using var model = new Qwen2Model(ModelConfig.Tiny with { VocabSize = 262, MaskTokenId = 258 }).InitializeWeights(3);
        var method = new Bd3lmMethod(new TrainingMethodContext(
            new Recipe { Data = new DataSection { SeqLen = 16 }, Train = new TrainSection { Objective = "bd3lm", Bd3lm = new Bd3lmOptions { BlockSize = 4 } } },
            model, ByteTokenizer.Instance));
        var batches = new[] { ValidationNelboTests.Batch(2, 16, 8, 60, 1), ValidationNelboTests.Batch(2, 16, 16, 60, 2) };
        var candidates = NoiseIntervalSearch.Candidates([0.3, 0.6], delta: 0.2);
        var first = NoiseIntervalSearch.Run(method, batches, candidates, seed: 5);
        var again = NoiseIntervalSearch.Run(method, batches, candidates, seed: 5);
        Assert.Equal(candidates.Count, first.Count);
        Assert.Equal(first, again);
        Assert.All(first, r => Assert.True(double.IsFinite(r.Variance) && r.Variance >= 0 && r.Mean > 0));
        Assert.True(first.Zip(first.Skip(1)).All(p => p.First.Variance <= p.Second.Variance));
    }
}
