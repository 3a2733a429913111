using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary>The validation NELBO (SPEC §1.2): t ~ U(ε, 1) whatever the training sampler, and its arithmetic.</summary>
public sealed class ValidationNelboTests
{
    /// <summary>The MDLM method of a per_document recipe on <paramref name="model"/>.</summary>
    static MdlmMethod Method(Qwen2Model model) => new(new TrainingMethodContext(
        new Recipe { Train = new TrainSection { TimeSampling = TimeSamplingMode.PerDocument } }, model, ByteTokenizer.Instance));

    /// <summary>A batch of <paramref name="rows"/> × <paramref name="length"/> tokens, documents of <paramref name="documentLength"/> tokens.</summary>
    internal static PackedBatch Batch(int rows, int length, int documentLength, int vocab, ulong seed)
    {
        var index = arange(length, dtype: ScalarType.Int64).unsqueeze(0).expand(rows, length);
        var tokens = randint(0, vocab - 1, new long[] { rows, length }, generator: new Generator(seed));
        var documents = index.div(documentLength, RoundingMode.floor).contiguous();
        var positions = index.remainder(documentLength).contiguous();
        var cursor = new LoaderCursor(0, 0, 0, length, PackingMode.Documents, rows * length);
        return new PackedBatch(tokens, positions, documents, ones(rows, length, dtype: ScalarType.Bool), 0, cursor,
                               documentBoundaries: documentLength < length);
    }

    /// <summary>
    /// Regression: a per_document recipe trains with t clamped to [1/500, 1 − 1/500] (point masses at both ends), but its
    /// validation draws must be U(ε, 1): inside [ε, 1), some above 1 − 1/500, no repeated values, and a small
    /// Kolmogorov–Smirnov distance to the uniform CDF.
    /// </summary>
    [Fact]
    public void ValidationTimesOfAPerDocumentRecipeAreUniformOnEpsilonToOne()
    {
        using var model = new Qwen2Model(ModelConfig.Tiny with { VocabSize = 256, MaskTokenId = 255 });
        var objective = Method(model);
        using var batch = Batch(rows: 64, length: 32, documentLength: 8, vocab: 256, seed: 1);
        var generator = new Generator(11);
        var draws = new List<double>();
        for (int rep = 0; rep < 25; rep++)
        {
            using var scope = NewDisposeScope();
            var t = objective.ValidationTimes(batch, generator);                                     // [64, 32]
            var perDocument = t[TensorIndex.Colon, TensorIndex.Slice(null, null, 8)];                // first token of each document
            draws.AddRange(perDocument.to(ScalarType.Float64).flatten().data<double>().ToArray());
        }
        double eps = MdlmMethod.ValidationEpsilon;
        Assert.Equal(6400, draws.Count);
        Assert.All(draws, x => Assert.InRange(x, eps - 1e-9, 1.0));
        Assert.Contains(draws, x => x > 1 - 1.0 / 500);                                             // impossible under the clamp
        int repeats = draws.GroupBy(x => x).Max(group => group.Count());
        Assert.True(repeats <= 3, $"a time occurs {repeats} times: a point mass");                  // the clamp piles ~13 at each end
        var sorted = draws.Order().ToArray();
        double ks = sorted.Select((x, i) => Math.Max(Math.Abs((x - eps) / (1 - eps) - (double)i / sorted.Length),
                                                     Math.Abs((x - eps) / (1 - eps) - (i + 1.0) / sorted.Length))).Max();
        Assert.True(ks < 1.63 / Math.Sqrt(sorted.Length), $"KS distance {ks} to U({eps}, 1)");      // 1% level

        // training keeps the recipe's sampler: Open-dLLM's clamp
        using var train = objective.TrainingTimes(batch, new Generator(11));
        Assert.True(train.min().item<float>() >= 1.0f / 500 - 1e-7 && train.max().item<float>() <= 1 - 1.0f / 500 + 1e-7);
    }

    /// <summary>NELBO terms by hand: CE [1, 2, 3, 4] / [0.5, 1, 2, 1], t [0.5, 0.5, 0.25, 0.25] / [0.1 …], w = 1/t.</summary>
    [Fact]
    public void NelboTermsMatchAHandComputedCase()
    {
        using var scope = NewDisposeScope();
        var ce = tensor(new float[,] { { 1, 2, 3, 4 }, { 0.5f, 1, 2, 1 } });
        var t = tensor(new float[,] { { 0.5f, 0.5f, 0.25f, 0.25f }, { 0.1f, 0.1f, 0.1f, 0.1f } });
        var active = tensor(new bool[,] { { true, false, true, false }, { false, true, false, false } });
        var candidates = tensor(new bool[,] { { true, true, true, true }, { true, true, true, false } });
        var terms = MdlmMethod.NelboTerms(ce, t, active, candidates, LinearSchedule.Instance);
        // row 0: 1/0.5 + 3/0.25 = 14; row 1: 1/0.1 = 10; tokens 4 + 3
        Assert.Equal(24.0, terms.Nats.item<double>(), 5);
        Assert.Equal(7L, terms.Tokens.item<long>());
    }

    /// <summary>
    /// A model with all weights 0 predicts uniformly over the V − 1 non-mask tokens, so CE = ln(V − 1) at every target and
    /// the batch's NELBO is ln(V − 1)·Σ_{masked targets} 1/t_i (linear schedule) over the real tokens, with exactly the
    /// validation draws (replayed from the same seed).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BoundOfAUniformModelIsLogVMinusOneTimesTheSumOfInverseTimes(bool shifted)
    {
        const int vocab = 16;
        using var scope = NewDisposeScope();
        var config = ModelConfig.Tiny with { VocabSize = vocab, MaskTokenId = vocab - 1, ShiftedLogits = shifted };
        using var model = new Qwen2Model(config);
        using (no_grad()) foreach (var p in model.parameters()) p.zero_();
        var objective = Method(model);
        using var batch = Batch(rows: 3, length: 12, documentLength: 4, vocab: vocab, seed: 2);
        var terms = objective.Bound(batch, new Generator(5));

        var replay = new Generator(5);
        var t = objective.ValidationTimes(batch, replay);
        var noisy = ForwardMasking.Apply(batch.Tokens, t, LinearSchedule.Instance, vocab - 1, batch.KeyPadding, replay);
        var documentEnd = DocumentEnds.Of(batch.DocumentIds, batch.KeyPadding);
        var active = LossTargets.Active(noisy.Masked, shifted, batch.KeyPadding, documentEnd);
        var inverseT = LossTargets.Targets(t, shifted).to(ScalarType.Float64).reciprocal();
        double expected = Math.Log(vocab - 1) * inverseT.masked_select(active).sum().item<double>();
        long tokens = LossTargets.Candidates(3, 12, shifted, CPU, batch.KeyPadding, documentEnd).sum().item<long>();

        Assert.True(active.any().item<bool>(), "the seed should mask something");
        Assert.Equal(expected, terms.Nats.item<double>(), 3);
        Assert.Equal(shifted ? 3 * (12 - 3) : 36, tokens);                                         // shifted: no target across a document end
        Assert.Equal(tokens, terms.Tokens.item<long>());
    }
}
