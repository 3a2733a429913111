using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// Ragged batches: rows with unequal prompt lengths, left-padded by <see cref="Canvas.ForCompletion"/>, and infill rows with
/// unequal prefix, middle and suffix lengths, aligned at the middle by <see cref="Canvas.ForInfill"/>, decode to exactly
/// the tokens each row gets alone (batch 1) under greedy decoding, for every sampler and every KV cache. The model is a
/// random tiny Qwen2 in float64, so the rounding differences between a padded batch and a single row (other matmul shapes,
/// a masked attention kernel instead of the unmasked one) stay far below the gaps between the confidences compared.
/// </summary>
public class RaggedBatchPropertyTests
{
    const long Pad = 97;

    static readonly Lazy<Qwen2Model> Model64 = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { MaskTokenId = 98 }, dtype: ScalarType.Float64).InitializeWeights(seed: 31, std: 0.3));

    static IDenoiser Denoiser(bool shifted) => new ModelDenoiser(Model64.Value, 98, shifted);

    /// <summary>Prompt lengths of a batch (2 to 4 rows, 1 to 7 tokens each), the prompts' seed and the logit alignment.</summary>
    public sealed record Batch(int[] PromptLengths, int Seed, bool Shifted)
    {
        public long[][] Prompts()
        {
            var rng = new Random(Seed);
            return PromptLengths.Select(n => Enumerable.Range(0, n).Select(_ => (long)rng.Next(0, 90)).ToArray()).ToArray();
        }

        public override string ToString() => $"prompts [{string.Join(", ", PromptLengths)}], seed {Seed}, shifted {Shifted}";
    }

    static Arbitrary<Batch> Batches() =>
        (from rows in Gen.Choose(2, 4)
         from lengths in Gen.ArrayOf(Gen.Choose(1, 7), rows)
         from seed in Gen.Choose(0, 10_000)
         from shifted in Gen.Elements(false, true)
         select new Batch(lengths, seed, shifted)).ToArbitrary();

    /// <summary>Each row of the batched output, its left padding dropped, equals that prompt decoded alone.</summary>
    static Property BatchEqualsRows(Batch batch, int length, ISampler sampler)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var denoiser = Denoiser(batch.Shifted);
        var prompts = batch.Prompts();
        int width = prompts.Max(p => p.Length);
        var together = SamplingFixtures.Rows(sampler.Sample(denoiser,
            Canvas.ForCompletion(prompts.Select(p => (IReadOnlyList<long>)p).ToList(), length, denoiser.MaskId, Pad)).Sequences);
        var mismatches = new List<string>();
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = SamplingFixtures.Rows(sampler.Sample(denoiser, Canvas.ForCompletion([prompts[r]], length, denoiser.MaskId, Pad)).Sequences)[0];
            var batched = together[r].Skip(width - prompts[r].Length).ToArray();
            if (!alone.SequenceEqual(batched))
                mismatches.Add($"row {r}: alone [{string.Join(" ", alone)}], batched [{string.Join(" ", batched)}]");
        }
        return (mismatches.Count == 0).Label($"{sampler.Name}, {batch}: {string.Join("; ", mismatches)}")
            .Classify(batch.PromptLengths.Distinct().Count() > 1, "ragged");
    }

    [Property(MaxTest = 12)]
    public Property MaskedDiffusionBatchEqualsRows() =>
        Prop.ForAll(Batches(), Gen.Elements(UnmaskingAlgorithm.MaskGitPlus, UnmaskingAlgorithm.TopKMargin, UnmaskingAlgorithm.Entropy,
                                            UnmaskingAlgorithm.P2).ToArbitrary(), Gen.Elements(QuotaRule.Dream, QuotaRule.Uniform).ToArbitrary(),
            (batch, algorithm, quota) => BatchEqualsRows(batch, 6,
                new MaskedDiffusionSampler(new() { Algorithm = algorithm, Quota = quota, Steps = algorithm == UnmaskingAlgorithm.P2 ? 8 : 4 })));

    /// <summary>Infill rows: per row a prefix (1 to 4 tokens), a middle of <c>Blocks[r]</c> × the block length masks and a
    /// suffix (0 to 4 tokens), the tokens' seed and the logit alignment.</summary>
    public sealed record InfillBatch(int[] Prefixes, int[] Blocks, int[] Suffixes, int Seed, bool Shifted)
    {
        public List<(IReadOnlyList<long> Prefix, int Length, IReadOnlyList<long> Suffix)> Rows(int blockLength)
        {
            var rng = new Random(Seed);
            IReadOnlyList<long> Tokens(int n) => Enumerable.Range(0, n).Select(_ => (long)rng.Next(0, 90)).ToArray();
            return Prefixes.Select((p, r) => (Tokens(p), Blocks[r] * blockLength, Tokens(Suffixes[r]))).ToList();
        }

        public override string ToString() =>
            $"prefixes [{string.Join(", ", Prefixes)}], middle blocks [{string.Join(", ", Blocks)}], suffixes [{string.Join(", ", Suffixes)}], seed {Seed}, shifted {Shifted}";
    }

    static Arbitrary<InfillBatch> InfillBatches(int maxBlocks) =>
        (from rows in Gen.Choose(2, 4)
         from prefixes in Gen.ArrayOf(Gen.Choose(1, 4), rows)
         from blocks in Gen.ArrayOf(Gen.Choose(0, maxBlocks), rows)
         from suffixes in Gen.ArrayOf(Gen.Choose(0, 4), rows)
         from seed in Gen.Choose(0, 10_000)
         from shifted in Gen.Elements(false, true)
         select new InfillBatch(prefixes, blocks, suffixes, seed, shifted)).ToArbitrary();

    /// <summary>Each row of the batched infill output, its padding dropped, equals that row decoded alone.</summary>
    static Property InfillBatchEqualsRows(InfillBatch batch, int blockLength, ISampler sampler)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var denoiser = Denoiser(batch.Shifted);
        var rows = batch.Rows(blockLength);
        var canvas = Canvas.ForInfill(rows, denoiser.MaskId, Pad);
        var together = SamplingFixtures.Rows(sampler.Sample(denoiser, canvas).Sequences);
        var real = canvas.KeyPadding is null ? null : SamplingFixtures.Rows(canvas.KeyPadding.to(ScalarType.Int64));
        var mismatches = rows.Select((row, r) =>
        {
            var alone = SamplingFixtures.Rows(sampler.Sample(denoiser, Canvas.ForInfill([row], denoiser.MaskId, Pad)).Sequences)[0];
            var batched = together[r].Where((_, j) => real is null || real[r][j] != 0).ToArray();
            return alone.SequenceEqual(batched) ? null : $"row {r}: alone [{string.Join(" ", alone)}], batched [{string.Join(" ", batched)}]";
        }).OfType<string>().ToList();
        return (mismatches.Count == 0).Label($"{sampler.Name}, {batch}: {string.Join("; ", mismatches)}")
            .Classify(batch.Blocks.Distinct().Count() > 1, "unequal middles");
    }

    /// <summary>Infill rows of unequal prefix, middle and suffix lengths (<see cref="Canvas.ForInfill"/>): the masked-diffusion
    /// sampler decodes each row as it does alone (its quotas and p2's re-mask counts are per row).</summary>
    [Property(MaxTest = 12)]
    public Property MaskedDiffusionInfillBatchEqualsRows() =>
        Prop.ForAll(InfillBatches(8), Gen.Elements(UnmaskingAlgorithm.MaskGitPlus, UnmaskingAlgorithm.P2).ToArbitrary(),
                    Gen.Elements(QuotaRule.Dream, QuotaRule.Uniform).ToArbitrary(), (batch, algorithm, quota) =>
            InfillBatchEqualsRows(batch, 1, new MaskedDiffusionSampler(new() { Algorithm = algorithm, Quota = quota, Steps = 4 })));

    /// <summary>LLaDA blocks on infill rows whose middles have different numbers of blocks: each row keeps its own steps
    /// per block (steps / its own #blocks), as alone.</summary>
    [Property(MaxTest = 16)]
    public Property LladaInfillBatchEqualsRows() =>
        Prop.ForAll(InfillBatches(3), Gen.Elements(2, 3).ToArbitrary(), Gen.Elements<int?>(null, 1).ToArbitrary(), (batch, blockLength, oneBlock) =>
            InfillBatchEqualsRows(batch, blockLength, new LladaSampler(new() { Steps = 6, BlockLength = oneBlock is null ? blockLength : null }))
                .Label(oneBlock is null ? $"block_length {blockLength}" : "one block per row"));

    /// <summary>Fast-dLLM on infill rows with every cache (the dKV cache at several refresh intervals), threshold and
    /// factor rules: a row's blocks, the columns a dual/prefix cache re-feeds and its frozen suffix are the ones it has alone.</summary>
    [Property(MaxTest = 24)]
    public Property FastDllmInfillBatchEqualsRowsWithEveryCache() =>
        Prop.ForAll(InfillBatches(3), Gen.Elements<(FastDllmCache, int)>((FastDllmCache.None, FastDllmOptions.DefaultRefreshInterval),
                        (FastDllmCache.Prefix, FastDllmOptions.DefaultRefreshInterval), (FastDllmCache.Dual, FastDllmOptions.DefaultRefreshInterval),
                        (FastDllmCache.Delayed, 2), (FastDllmCache.Delayed, 3)).ToArbitrary(),
                    Gen.Elements<(double, double?)>((0.3, null), (0.9, null), (0.9, 1.0)).ToArbitrary(), (batch, cache, rule) =>
            InfillBatchEqualsRows(batch, 2, new FastDllmSampler(new()
            {
                BlockLength = 3, Cache = cache.Item1, Threshold = rule.Item1, Factor = rule.Item2, RefreshInterval = cache.Item2,
            })).Label($"threshold {rule.Item1}, factor {rule.Item2}, refresh_interval {cache.Item2}"));

    [Property(MaxTest = 12)]
    public Property LladaBatchEqualsRows() =>
        Prop.ForAll(Batches(), Gen.Elements(2, 3, 6).ToArbitrary(), (batch, blockLength) =>
            BatchEqualsRows(batch, 6, new LladaSampler(new() { Steps = 6, BlockLength = blockLength })));

    [Property(MaxTest = 12)]
    public Property FastDllmBatchEqualsRowsWithEveryCache() =>
        Prop.ForAll(Batches(), Gen.Elements(FastDllmCache.None, FastDllmCache.Prefix, FastDllmCache.Dual).ToArbitrary(),
                    Gen.Elements<double?>(null, 1.0).ToArbitrary(), (batch, cache, factor) =>
            BatchEqualsRows(batch, 8, new FastDllmSampler(new() { BlockLength = 3, Cache = cache, Threshold = 0.3, Factor = factor })));

    /// <summary>
    /// The dKV-Cache (fast-dllm-dkv) at τ &lt; 1 and the factor rule, several refresh intervals, on the two-layer model: rows
    /// need different numbers of steps per block, so this holds only because each row counts its own steps (a row waiting
    /// for the others to finish a block does not step) and keeps its own cache and refresh schedule.
    /// </summary>
    [Property(MaxTest = 20)]
    public Property FastDllmDelayedCacheBatchEqualsRowsAtAnyThreshold() =>
        Prop.ForAll(Batches(), Gen.Elements(2, 3, 5).ToArbitrary(),
                    Gen.Elements<(double, double?)>((0.3, null), (0.6, null), (0.9, 1.0)).ToArbitrary(), (batch, refresh, rule) =>
            BatchEqualsRows(batch, 8, new FastDllmSampler(new()
            {
                BlockLength = 3, Cache = FastDllmCache.Delayed, RefreshInterval = refresh, Threshold = rule.Item1, Factor = rule.Item2,
            })).Label($"refresh_interval {refresh}, threshold {rule.Item1}, factor {rule.Item2}"));

    [Property(MaxTest = 12)]
    public Property BlockDiffusionBatchEqualsRowsWithAndWithoutCache() =>
        Prop.ForAll(Batches(), Gen.Elements(true, false).ToArbitrary(), Gen.Elements(2, 4).ToArbitrary(), (batch, cache, blockSize) =>
            BatchEqualsRows(batch, 6, new BlockDiffusionSampler(new() { BlockSize = blockSize, Steps = 6, UseCache = cache, EosId = 5, PadId = Pad })));

    [Property(MaxTest = 12)]
    public Property AutoregressiveBatchEqualsRowsWithAndWithoutCache() =>
        Prop.ForAll(Batches(), Gen.Elements(true, false).ToArbitrary(), (batch, cache) =>
            BatchEqualsRows(batch, 5, new AutoregressiveSampler(new() { UseCache = cache, EosId = 5 })));
}
