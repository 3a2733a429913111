using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>The dKV-Cache delayed cache (<see cref="FastDllmCache.Delayed"/>, sampler fast-dllm-dkv).</summary>
public class DelayedKvCacheTests
{
    static readonly Lazy<Qwen2Model> OneLayer = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { NumHiddenLayers = 1, MaskTokenId = 98 }).InitializeWeights(seed: 8, std: 0.3));

    static readonly long[][] CompletionPrompts = [[5, 6, 7, 8, 9], [10, 11]];
    static readonly (IReadOnlyList<long>, int, IReadOnlyList<long>)[] InfillRows = [([1, 2, 3], 12, [4, 5]), ([6], 7, [7, 8, 9])];

    static Canvas RaggedCompletion(long maskId) => Canvas.ForCompletion(CompletionPrompts, 24, maskId, padId: 97);

    static Canvas RaggedInfill(long maskId) => Canvas.ForInfill(InfillRows, maskId, padId: 97);

    /// <summary>Row <paramref name="r"/> of <see cref="RaggedCompletion"/> or <see cref="RaggedInfill"/>, alone (batch 1).</summary>
    static Canvas Alone(bool infill, int r, long maskId) =>
        infill ? Canvas.ForInfill([InfillRows[r]], maskId, padId: 97) : Canvas.ForCompletion([CompletionPrompts[r]], 24, maskId, padId: 97);

    static SamplerOutput Run(IDenoiser denoiser, Canvas canvas, FastDllmCache cache, double threshold, int refresh = FastDllmOptions.DefaultRefreshInterval) =>
        new FastDllmSampler(new() { BlockLength = 8, Threshold = threshold, Cache = cache, RefreshInterval = refresh }).Sample(denoiser, canvas);

    /// <summary>
    /// One layer: a column's keys/values depend only on its token and position, so the cache is stale only if a decoded
    /// token's entry still holds the keys/values it had as a mask. The delay re-feeds it once, so decoding equals the
    /// uncached sampler at every refresh interval (caching a token in the step that decodes it fails this test). Alone
    /// (batch 1) each row also takes as many forwards; in a batch a step where some rows refresh and others read their caches
    /// takes two (sub-batch) forwards, so only the batch-1 counts are compared.
    /// </summary>
    [Theory]
    [InlineData(false, 1.0, 2, false)]
    [InlineData(false, 0.3, 3, false)]
    [InlineData(true, 1.0, 1000, false)]
    [InlineData(true, 0.3, 5, false)]
    [InlineData(false, 0.3, 1000, true)]
    [InlineData(true, 1.0, 4, true)]
    public void OnAOneLayerModelEveryRefreshIntervalEqualsUncached(bool shifted, double threshold, int refresh, bool infill)
    {
        using var scope = NewDisposeScope();
        var denoiser = new ModelDenoiser(OneLayer.Value, 98, shifted);
        var canvas = infill ? RaggedInfill(98) : RaggedCompletion(98);
        var plain = Run(denoiser, canvas, FastDllmCache.None, threshold);
        var delayed = Run(denoiser, canvas, FastDllmCache.Delayed, threshold, refresh);
        Assert.Equal(SamplingFixtures.Rows(plain.Sequences), SamplingFixtures.Rows(delayed.Sequences));
        for (int r = 0; r < 2; r++)
        {
            var alone = Alone(infill, r, 98);
            var plainAlone = Run(denoiser, alone, FastDllmCache.None, threshold);
            var delayedAlone = Run(denoiser, alone, FastDllmCache.Delayed, threshold, refresh);
            Assert.Equal(SamplingFixtures.Rows(plainAlone.Sequences), SamplingFixtures.Rows(delayedAlone.Sequences));
            Assert.Equal(plainAlone.Forwards, delayedAlone.Forwards);
        }
    }

    /// <summary>Refresh every step: every forward is a full one, so any depth decodes exactly as the uncached sampler, in a
    /// ragged batch and at batch 1 (token for token and forward for forward).</summary>
    [Theory]
    [InlineData(false, 1.0, false)]
    [InlineData(true, 0.3, false)]
    [InlineData(false, 0.3, true)]
    [InlineData(true, 0.6, true)]
    public void RefreshEveryStepEqualsUncachedOnADeeperModel(bool shifted, double threshold, bool batchOfOne)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted);
        var canvas = batchOfOne ? Alone(infill: false, 0, denoiser.MaskId) : RaggedInfill(denoiser.MaskId);
        var plain = Run(denoiser, canvas, FastDllmCache.None, threshold);
        var delayed = Run(denoiser, canvas, FastDllmCache.Delayed, threshold, refresh: 1);
        Assert.Equal(SamplingFixtures.Rows(plain.Sequences), SamplingFixtures.Rows(delayed.Sequences));
        Assert.Equal(plain.Forwards, delayed.Forwards);
    }

    /// <summary>With an approximate cache (deeper model, rare refresh) every mask is still decoded and no context token changes.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ApproximateDecodingFillsEveryMaskAndKeepsTheContext(bool shifted)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted);
        var canvas = RaggedInfill(denoiser.MaskId);
        var result = Run(denoiser, canvas, FastDllmCache.Delayed, threshold: 0.3, refresh: 100);
        var before = SamplingFixtures.Rows(canvas.Tokens);
        var after = SamplingFixtures.Rows(result.Sequences);
        Assert.DoesNotContain(after.SelectMany(r => r), t => t == denoiser.MaskId);
        for (int r = 0; r < before.Length; r++)
            for (int j = 0; j < before[r].Length; j++)
                if (before[r][j] != denoiser.MaskId) Assert.Equal(before[r][j], after[r][j]);
    }

    static readonly Lazy<Qwen2Model> Model64 = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { MaskTokenId = 98 }, dtype: ScalarType.Float64).InitializeWeights(seed: 31, std: 0.3));

    /// <summary>
    /// Ragged completion batch on a two-layer model (float64, so padding changes no comparison): with τ = 1 every row commits one
    /// token per step, so the rows share the step count and the refresh schedule, each row decodes as it does alone and the
    /// batch takes one forward per step, as one row alone does (no step is split into sub-batches). τ &lt; 1, where rows fall out
    /// of step, is <see cref="RaggedBatchPropertyTests.FastDllmDelayedCacheBatchEqualsRowsAtAnyThreshold"/>.
    /// </summary>
    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 2)]
    [InlineData(true, 1000)]
    public void WithOneTokenPerStepEveryRowOfARaggedBatchDecodesAsAlone(bool shifted, int refresh)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var denoiser = new ModelDenoiser(Model64.Value, 98, shifted);
        long[][] prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]];
        var sampler = new FastDllmSampler(new() { BlockLength = 4, Threshold = 1.0, Cache = FastDllmCache.Delayed, RefreshInterval = refresh });
        var batch = sampler.Sample(denoiser, Canvas.ForCompletion(prompts.Select(p => (IReadOnlyList<long>)p).ToList(), 10, 98, 97));
        var together = SamplingFixtures.Rows(batch.Sequences);
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = sampler.Sample(denoiser, Canvas.ForCompletion([prompts[r]], 10, 98, 97));
            Assert.Equal(SamplingFixtures.Rows(alone.Sequences)[0], together[r].Skip(5 - prompts[r].Length).ToArray());
            Assert.Equal(alone.Forwards, batch.Forwards);        // rows in step: every step is one forward over the whole batch
        }
    }

    /// <summary>
    /// Rows that fall out of step (τ &lt; 1) refresh at different steps: a step where some rows refresh and others read their
    /// caches runs two sub-batch forwards, each counted, so the batch reports more forwards than steps, never more than two
    /// per step. (That each row still decodes as alone is <see cref="RaggedBatchPropertyTests.FastDllmDelayedCacheBatchEqualsRowsAtAnyThreshold"/>.)
    /// </summary>
    [Fact]
    public void AStepWhereSomeRowsRefreshAndOthersReadTheirCachesIsTwoSubBatchForwards()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var canvas = Canvas.ForCompletion([[1, 2, 3], [4, 5, 6, 7, 8]], 12, 98, 97);
        var output = new FastDllmSampler(new() { BlockLength = 4, Threshold = 0.3, Cache = FastDllmCache.Delayed, RefreshInterval = 3, RecordTrajectory = true })
            .Sample(SamplingFixtures.RandomTiny(), canvas);
        int steps = output.Trajectory!.Steps.Count;
        Assert.InRange(output.Forwards, steps + 1, 2 * steps);
    }

    [Fact]
    public void TheFactoryBuildsItByNameWithItsRefreshInterval()
    {
        var sampler = Assert.IsType<FastDllmSampler>(SamplerFactory.Create("fast-dllm-dkv", new SamplerSettings { RefreshInterval = 3 }));
        Assert.Equal("fast-dllm-dkv", sampler.Name);
        Assert.Equal(FastDllmCache.Delayed, sampler.Options.Cache);
        Assert.Equal(3, sampler.Options.RefreshInterval);
        Assert.Equal(FastDllmOptions.DefaultRefreshInterval, ((FastDllmSampler)SamplerFactory.Create("fast-dllm-dkv")).Options.RefreshInterval);
    }

    [Theory]
    [InlineData("fast-dllm-dual")]
    [InlineData("fast-dllm-nocache")]
    [InlineData("maskgit_plus")]
    public void ARefreshIntervalIsRefusedWhereNoDelayedCacheUsesIt(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => SamplerFactory.Create(name, new SamplerSettings { RefreshInterval = 4 }));
        Assert.Equal($"refresh_interval = 4 is not used by the {name} sampler (only by fast-dllm-dkv); leave it unset", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void ANonPositiveRefreshIntervalIsRefused(int value)
    {
        var error = Assert.Throws<ArgumentException>(() => SamplerFactory.Create("fast-dllm-dkv", new SamplerSettings { RefreshInterval = value }));
        Assert.Equal($"refresh_interval must be ≥ 1, got {value}", error.Message);
        Assert.Throws<ArgumentException>(() => new FastDllmSampler(new() { Cache = FastDllmCache.Delayed, RefreshInterval = value }));
    }

    [Fact]
    public void TheOptionsRecordRefusesARefreshIntervalForAnotherCache()
    {
        var error = Assert.Throws<ArgumentException>(() => new FastDllmSampler(new() { Cache = FastDllmCache.Dual, RefreshInterval = 3 }));
        Assert.Contains("refresh_interval = 3", error.Message);
    }
}
