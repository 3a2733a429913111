using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

public class FastDllmSamplerTests
{
    static readonly Lazy<Qwen2Model> OneLayer = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { NumHiddenLayers = 1, MaskTokenId = 98 }).InitializeWeights(seed: 8, std: 0.3));

    /// <summary>With one layer a position's keys/values depend only on its own token, so both caches are exact.</summary>
    static IDenoiser OneLayerDenoiser(bool shifted) => new ModelDenoiser(OneLayer.Value, 98, shifted);

    static Canvas BatchCanvas(long maskId) => Canvas.ForCompletion([[5, 6, 7, 8, 9], [10, 11]], 24, maskId, padId: 97);

    [Theory]
    [InlineData(FastDllmCache.Prefix, false, 1.0)]
    [InlineData(FastDllmCache.Dual, false, 1.0)]
    [InlineData(FastDllmCache.Prefix, true, 1.0)]
    [InlineData(FastDllmCache.Dual, true, 1.0)]
    [InlineData(FastDllmCache.Dual, true, 0.3)]
    [InlineData(FastDllmCache.Prefix, false, 0.3)]
    public void CachedDecodingEqualsUncachedOnAOneLayerModel(FastDllmCache cache, bool shifted, double threshold)
    {
        using var scope = NewDisposeScope();
        var denoiser = OneLayerDenoiser(shifted);
        var canvas = BatchCanvas(denoiser.MaskId);
        var plain = new FastDllmSampler(new() { BlockLength = 8, Threshold = threshold, Cache = FastDllmCache.None }).Sample(denoiser, canvas);
        var cached = new FastDllmSampler(new() { BlockLength = 8, Threshold = threshold, Cache = cache }).Sample(denoiser, canvas);
        Assert.Equal(SamplingFixtures.Rows(plain.Sequences), SamplingFixtures.Rows(cached.Sequences));
        Assert.Equal(plain.Forwards, cached.Forwards);
    }

    [Fact]
    public void ThresholdOneCommitsOneTokenPerStepPerRow()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 16, denoiser.MaskId, 97);
        var result = new FastDllmSampler(new() { BlockLength = 4, Threshold = 1.0, RecordTrajectory = true }).Sample(denoiser, canvas);
        Assert.Equal(16, result.Forwards);
        Assert.All(result.Trajectory!.Steps, s => Assert.Single(s.Events));
        // blocks are decoded left to right: every position of block k is committed before any of block k + 1
        var order = result.Trajectory.CommitStep()[0].Skip(3).ToArray();
        for (int j = 4; j < 16; j++) Assert.True(order[j] > order[j / 4 * 4 - 1], $"position {j} before its previous block finished");
    }

    [Theory]
    [InlineData(FastDllmCache.None)]
    [InlineData(FastDllmCache.Prefix)]
    [InlineData(FastDllmCache.Dual)]
    public void LowThresholdDecodesInFewerStepsAndLeavesNoMask(FastDllmCache cache)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted: true);
        var canvas = Canvas.ForInfill([([1, 2, 3], 12, [4, 5]), ([6], 7, [7, 8, 9])], denoiser.MaskId, padId: 97);
        var result = new FastDllmSampler(new() { BlockLength = 4, Threshold = 0.05, Cache = cache }).Sample(denoiser, canvas);
        var before = SamplingFixtures.Rows(canvas.Tokens);
        var after = SamplingFixtures.Rows(result.Sequences);
        Assert.DoesNotContain(after.SelectMany(r => r), t => t == denoiser.MaskId);
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < before[r].Length; j++)
                if (before[r][j] != denoiser.MaskId) Assert.Equal(before[r][j], after[r][j]);
        Assert.True(result.Forwards < 12, $"{result.Forwards} forwards for 12 masks");
    }

    [Fact]
    public void FactorRuleRuns()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 8, denoiser.MaskId, 97);
        var result = new FastDllmSampler(new() { BlockLength = 4, Factor = 1.0 }).Sample(denoiser, canvas);
        Assert.DoesNotContain(SamplingFixtures.Rows(result.Sequences)[0], t => t == denoiser.MaskId);
    }
}
