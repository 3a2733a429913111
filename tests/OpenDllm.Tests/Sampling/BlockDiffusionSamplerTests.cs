using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Sampling.Transfer;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>BD3LM block-by-block decoding (SPEC §4.3): cache exactness, block order, quotas, EOS stop, padding.</summary>
public class BlockDiffusionSamplerTests
{
    static readonly Lazy<Qwen2Model> Deep = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { NumHiddenLayers = 4, MaskTokenId = 98 }).InitializeWeights(seed: 5, std: 0.3));

    /// <summary>A random tiny model of <paramref name="layers"/> layers (2 = the shared fixture, 4 = a deeper one).</summary>
    static IDenoiser Model(int layers, bool shifted) =>
        layers == 2 ? SamplingFixtures.RandomTiny(shifted) : new ModelDenoiser(Deep.Value, 98, shifted);

    /// <summary>Two prompts of different lengths (3 and 6: the first needs 1 + 3 pad columns for b = 4), 10 new tokens
    /// (3 blocks, the last one short).</summary>
    static Canvas TwoPrompts(long maskId, int length = 10) =>
        Canvas.ForCompletion([[5, 6, 7], [8, 9, 10, 11, 12, 13]], length, maskId, padId: 97);

    [Theory]
    [InlineData(2, false, 0.0, RemaskingStrategy.LowConfidence, QuotaRule.Uniform)]
    [InlineData(2, true, 0.0, RemaskingStrategy.LowConfidence, QuotaRule.Uniform)]
    [InlineData(2, false, 0.9, RemaskingStrategy.LowConfidence, QuotaRule.Dream)]
    [InlineData(2, true, 0.9, RemaskingStrategy.Random, QuotaRule.Uniform)]
    [InlineData(4, false, 0.0, RemaskingStrategy.LowConfidence, QuotaRule.Uniform)]
    [InlineData(4, true, 0.9, RemaskingStrategy.LowConfidence, QuotaRule.Uniform)]
    public void CachedEqualsUncached(int layers, bool shifted, double temperature, RemaskingStrategy remasking, QuotaRule transfer)
    {
        using var scope = NewDisposeScope();
        var denoiser = Model(layers, shifted);
        var canvas = TwoPrompts(denoiser.MaskId);
        var options = new BlockDiffusionOptions { BlockSize = 4, Steps = 6, Temperature = temperature, Remasking = remasking, Transfer = transfer, Seed = 11 };
        var cached = new BlockDiffusionSampler(options).Sample(denoiser, canvas);
        var plain = new BlockDiffusionSampler(options with { UseCache = false }).Sample(denoiser, canvas);
        Assert.True(Fixture.Same(cached.Sequences, plain.Sequences),
            $"cached {string.Join(",", cached.Sequences.data<long>().ToArray())} ≠ uncached {string.Join(",", plain.Sequences.data<long>().ToArray())}");
        Assert.Equal(transfer == QuotaRule.Dream ? 5 : 6, plain.Forwards);   // 3 blocks × ⌈6/3⌉ steps (Dream: [0, 2] for the short block)
        Assert.Equal(plain.Forwards + 3, cached.Forwards);         // + one prefix/extension pass per block
        Assert.False(cached.Sequences.eq(denoiser.MaskId).any().item<bool>());
    }

    [Fact]
    public void CachedEqualsUncachedWithoutPromptAndWithEosStop()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = new Canvas(full(2, 12, denoiser.MaskId, dtype: ScalarType.Int64));        // no prompt: block 0 has no prefix
        var options = new BlockDiffusionOptions { BlockSize = 4, Steps = 12, Temperature = 1.0, Seed = 2 };
        var first = SamplingFixtures.Rows(new BlockDiffusionSampler(options).Sample(denoiser, canvas).Sequences);
        long eos = first[0][1];                                                                 // occurs in row 0's first block
        var cached = new BlockDiffusionSampler(options with { EosId = eos }).Sample(denoiser, canvas);
        var plain = new BlockDiffusionSampler(options with { EosId = eos, UseCache = false }).Sample(denoiser, canvas);
        Assert.True(Fixture.Same(cached.Sequences, plain.Sequences));
        var row = SamplingFixtures.Rows(cached.Sequences)[0];
        Assert.Equal(first[0].Take(4), row.Take(4));                                            // the block that produced EOS is unchanged
        Assert.All(row.Skip(4), t => Assert.Equal(eos, t));                                     // the row stopped after it
    }

    [Theory]
    [InlineData(QuotaRule.Uniform)]
    [InlineData(QuotaRule.Dream)]
    public void BlocksDecodeLeftToRightWithTheScheduledQuota(QuotaRule transfer)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted: true);
        var canvas = TwoPrompts(denoiser.MaskId);
        var result = new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 7, Transfer = transfer, RecordTrajectory = true, UseCache = false })
            .Sample(denoiser, canvas);
        // canvas columns: prompt 0..5, blocks at 6..9, 10..13, 14..15 (the prompt is padded by 2 internally → aligned)
        (int Start, int Length)[] blocks = [(6, 4), (10, 4), (14, 2)];
        int stepsPerBlock = 3;                                                                  // ⌈7 / 3⌉
        var expected = blocks.SelectMany((blk, index) =>
            (transfer == QuotaRule.Dream ? DreamTransferSchedule.Quotas(blk.Length, stepsPerBlock) : LladaTransferSchedule.Quotas(blk.Length, stepsPerBlock))
            .Where(k => k > 0).Select(k => (Block: index, Quota: k))).ToArray();
        var steps = result.Trajectory!.Steps;
        Assert.Equal(expected.Length, steps.Count);
        Assert.Equal(expected.Length, result.Forwards);
        for (int i = 0; i < steps.Count; i++)
        {
            var (start, length) = blocks[expected[i].Block];
            Assert.All(steps[i].Events, e => Assert.InRange(e.Position, start, start + length - 1));
            for (int r = 0; r < 2; r++) Assert.Equal(expected[i].Quota, steps[i].Events.Count(e => e.Row == r));
        }
        Assert.Equal(result.Trajectory.CanvasAfter(steps.Count), SamplingFixtures.Rows(result.Sequences));
    }

    [Fact]
    public void LeftPaddedRowEqualsItsUnpaddedRun()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var options = new BlockDiffusionOptions { BlockSize = 4, Steps = 8 };
        var batch = new BlockDiffusionSampler(options).Sample(denoiser, TwoPrompts(denoiser.MaskId, 8));
        var alone = new BlockDiffusionSampler(options).Sample(denoiser, Canvas.ForCompletion([[5, 6, 7]], 8, denoiser.MaskId, 97));
        Assert.Equal(SamplingFixtures.Rows(alone.Sequences)[0], SamplingFixtures.Rows(batch.Sequences)[0].Skip(3));
    }

    [Fact]
    public void KeepsThePromptAndTheCanvasShape()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted: true);
        var canvas = TwoPrompts(denoiser.MaskId);
        var output = new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 4, PadId = 0 }).Sample(denoiser, canvas).Sequences;
        Assert.Equal(canvas.Tokens.shape, output.shape);
        Assert.True(Fixture.Same(canvas.Tokens.narrow(1, 0, 6), output.narrow(1, 0, 6)));
        Assert.Equal(32, new BlockDiffusionOptions().BlockSize);
    }

    [Fact]
    public void RejectsCanvasesThatAreNotPromptPlusMasks()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        long m = denoiser.MaskId;
        var holes = new Canvas(tensor(new long[,] { { 1, m, 2, m, m } }));
        Assert.Throws<ArgumentException>(() => new BlockDiffusionSampler(new() { BlockSize = 2 }).Sample(denoiser, holes));
        var noPrompt = new Canvas(full(1, 4, m, dtype: ScalarType.Int64));
        Assert.Throws<ArgumentException>(() => new BlockDiffusionSampler(new() { BlockSize = 2 }).Sample(SamplingFixtures.RandomTiny(shifted: true), noPrompt));
        Assert.ThrowsAny<ArgumentException>(() => new BlockDiffusionSampler(new() { BlockSize = 0 }));
    }

    [Fact]
    public void SameSeedSameOutputDifferentSeedUsuallyDifferent()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 12, denoiser.MaskId, 97);
        Tensor Run(long seed) => new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 6, Temperature = 1.0, Seed = seed }).Sample(denoiser, canvas).Sequences;
        Assert.True(Fixture.Same(Run(5), Run(5)));
        Assert.False(Fixture.Same(Run(5), Run(6)));
    }
}
