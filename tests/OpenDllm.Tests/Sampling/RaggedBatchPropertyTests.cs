using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// Ragged batches: rows with unequal prompt lengths, left-padded by <see cref="Canvas.ForCompletion"/>, decode to exactly
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

    /// <summary>Infill rows of unequal prefix, middle and suffix lengths, right-padded by <see cref="Canvas.ForInfill"/>: the
    /// masked-diffusion sampler decodes each row as it does alone (its quotas and p2's re-mask counts are per row).</summary>
    [Property(MaxTest = 12)]
    public Property MaskedDiffusionInfillBatchEqualsRows() =>
        Prop.ForAll(Batches(), Gen.Elements(UnmaskingAlgorithm.MaskGitPlus, UnmaskingAlgorithm.P2).ToArbitrary(),
                    Gen.Elements(QuotaRule.Dream, QuotaRule.Uniform).ToArbitrary(), (batch, algorithm, quota) =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var denoiser = Denoiser(batch.Shifted);
            var sampler = new MaskedDiffusionSampler(new() { Algorithm = algorithm, Quota = quota, Steps = 4 });
            var rows = batch.Prompts().Select((p, i) => ((IReadOnlyList<long>)p.Take(1 + i % 2).ToArray(), 1 + (p.Length * 3 + i) % 9,
                                                         (IReadOnlyList<long>)p.Skip(1 + i % 2).ToArray())).ToList();
            var together = SamplingFixtures.Rows(sampler.Sample(denoiser, Canvas.ForInfill(rows, denoiser.MaskId, Pad)).Sequences);
            var mismatches = rows.Select((row, r) =>
            {
                var alone = SamplingFixtures.Rows(sampler.Sample(denoiser, Canvas.ForInfill([row], denoiser.MaskId, Pad)).Sequences)[0];
                return alone.SequenceEqual(together[r].Take(alone.Length)) ? null : $"row {r}: alone [{string.Join(" ", alone)}], batched [{string.Join(" ", together[r])}]";
            }).OfType<string>().ToList();
            return (mismatches.Count == 0).Label($"{sampler.Name} {quota}, {batch}: {string.Join("; ", mismatches)}");
        });

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
