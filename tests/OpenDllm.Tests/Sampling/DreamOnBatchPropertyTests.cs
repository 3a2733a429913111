using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// The DreamOn sampler's ragged batches (<see cref="DreamOnSampler.InfillBatch"/>): rows of random prefixes, suffixes,
/// initial middle lengths and length budgets, whose canvases grow and shrink independently, decode to exactly what each
/// row decodes alone: the same final canvas, middle, expansions, deletions and forwards. Greedy, and sampled (temperature,
/// top-p, alg_temp) with a seed per row. The model is a random two-layer Qwen2 in float64, so the rounding differences
/// between a padded batch and a single row stay far below the gaps between the confidences compared; a bias on the
/// &lt;expand&gt; and &lt;delete&gt; logits makes both happen often.
/// </summary>
public class DreamOnBatchPropertyTests
{
    const long Expand = 95, Delete = 96;
    const int MaskId = 98;

    static readonly Lazy<Qwen2Model> Model64 = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { MaskTokenId = MaskId }, dtype: ScalarType.Float64).InitializeWeights(seed: 41, std: 0.3));

    /// <summary>The random model with <paramref name="bias"/> added to the &lt;expand&gt; and &lt;delete&gt; logits.</summary>
    sealed class EditBiasedDenoiser(IDenoiser inner, double expandBias, double deleteBias) : IDenoiser
    {
        public int VocabSize => inner.VocabSize;
        public long MaskId => inner.MaskId;
        public bool ShiftedLogits => inner.ShiftedLogits;

        public DenoiserOutput Forward(DenoiserInput input)
        {
            var output = inner.Forward(input);
            var host = new double[VocabSize];
            host[Expand] = expandBias;
            host[Delete] = deleteBias;
            var bias = tensor(host).to(output.Logits.dtype).to(output.Logits.device);
            return output with { Logits = output.Logits + bias };
        }
    }

    /// <summary>A batch: per row (prefix length, initial masks, suffix length, seed); the budget, tokens' seed, alignment
    /// and the edit biases.</summary>
    public sealed record Batch((int Prefix, int Initial, int Suffix, long Seed)[] Rows, int ExtraBudget, int Seed, bool Shifted,
                               double ExpandBias, double DeleteBias)
    {
        public int MaxMiddle => Rows.Max(r => r.Initial) + ExtraBudget;

        public List<VariableInfillRow> InfillRows(bool seedPerRow)
        {
            var rng = new Random(Seed);
            long[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => (long)rng.Next(0, 90)).ToArray();
            return Rows.Select(r => new VariableInfillRow(Tokens(r.Prefix), r.Initial, Tokens(r.Suffix), seedPerRow ? r.Seed : null)).ToList();
        }

        public override string ToString() =>
            $"rows [{string.Join(", ", Rows.Select(r => $"{r.Prefix}+{r.Initial}+{r.Suffix} seed {r.Seed}"))}], max_middle {MaxMiddle}, "
            + $"seed {Seed}, shifted {Shifted}, bias expand {ExpandBias} delete {DeleteBias}";
    }

    static Arbitrary<Batch> Batches() =>
        (from count in Gen.Choose(2, 4)
         from rows in Gen.ArrayOf((from prefix in Gen.Choose(1, 6)
                                   from initial in Gen.Choose(1, 5)
                                   from suffix in Gen.Choose(0, 6)
                                   from seed in Gen.Choose(0, 1000)
                                   select (prefix, initial, suffix, (long)seed)), count)
         from extra in Gen.Choose(0, 6)
         from seed in Gen.Choose(0, 10_000)
         from shifted in Gen.Elements(false, true)
         from expandBias in Gen.Elements(0.0, 2.0, 4.0)
         from deleteBias in Gen.Elements(0.0, 1.5, 3.0)
         select new Batch(rows, extra, seed, shifted, expandBias, deleteBias)).ToArbitrary();

    /// <summary>Each row of <paramref name="sampler"/>'s batch equals that row decoded alone.</summary>
    static Property BatchEqualsRows(Batch batch, DreamOnSamplerOptions options, bool seedPerRow)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var denoiser = new EditBiasedDenoiser(new ModelDenoiser(Model64.Value, MaskId, batch.Shifted), batch.ExpandBias, batch.DeleteBias);
        var sampler = new DreamOnSampler(options with { MaxMiddle = batch.MaxMiddle });
        var rows = batch.InfillRows(seedPerRow);
        var together = sampler.InfillBatch(denoiser, rows);
        var mismatches = new List<string>();
        for (int r = 0; r < rows.Count; r++)
        {
            var alone = sampler.InfillBatch(denoiser, [rows[r]])[0];
            string Describe(VariableInfillOutput o) =>
                $"[{string.Join(" ", o.Output.Sequences[0].data<long>().ToArray())}] middle {o.MiddleLength}, +{o.Expansions} −{o.Deletions}, {o.Output.Forwards} forwards";
            if (Describe(alone) != Describe(together[r])) mismatches.Add($"row {r}: alone {Describe(alone)}, batched {Describe(together[r])}");
        }
        return (mismatches.Count == 0).Label($"{batch}: {string.Join("; ", mismatches)}")
            .Classify(together.Any(o => o.Expansions > 0), "expanded")
            .Classify(together.Any(o => o.Deletions > 0), "deleted")
            .Classify(together.Select(o => o.Output.Forwards).Distinct().Count() > 1, "rows finished at different steps");
    }

    static readonly EditTokenIds Edits = new(Expand, Delete);

    [Property(MaxTest = 16)]
    public Property GreedyBatchEqualsRows() =>
        Prop.ForAll(Batches(), Gen.Elements(ConfidenceKind.NegativeEntropy, ConfidenceKind.Probability, ConfidenceKind.Margin).ToArbitrary(),
            (batch, confidence) => BatchEqualsRows(batch, new DreamOnSamplerOptions
            {
                Tokens = Edits, Temperature = 0, TopP = null, Confidence = confidence,
            }, seedPerRow: false));

    /// <summary>Sampled rows too: each row draws from its own generator (its own seed, or the options' seed for every row).</summary>
    [Property(MaxTest = 16)]
    public Property SampledBatchEqualsRowsWithASeedPerRow() =>
        Prop.ForAll(Batches(), Gen.Elements(0.0, 0.5).ToArbitrary(), Gen.Elements(true, false).ToArbitrary(),
            (batch, algTemp, seedPerRow) => BatchEqualsRows(batch, new DreamOnSamplerOptions
            {
                Tokens = Edits, Temperature = 1.0, TopP = 0.9, AlgTemp = algTemp, Seed = 7,
            }, seedPerRow));
}
