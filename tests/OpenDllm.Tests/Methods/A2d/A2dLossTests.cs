using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.Methods.A2d;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.A2d;

/// <summary>The a2d loss against a computation by hand (SPEC §3), and the skipped alignment term.</summary>
public sealed class A2dLossTests
{
    const double Lambda = 10;

    static Qwen2Model TinyModel() =>
        new Qwen2Model(ModelConfig.Tiny with { VocabSize = 256, MaskTokenId = 255, ShiftedLogits = true }).InitializeWeights(seed: 3);

    static TrainingMethodContext Context(Qwen2Model model, double lambda) => new(
        new Recipe { Train = new TrainSection { Objective = A2dMethod.MethodName, A2d = new A2dOptions { AlignWeight = lambda } } },
        model, ByteTokenizer.Instance);

    /// <summary>
    /// L = L_MDM + λ·L_align, with L_MDM the dense reference MDLM loss on [B, L, V] logits of the bidirectional forward of
    /// x_t, and L_align = 1 − mean over (active position, hidden state) of the cosine between the student's state and the
    /// causal forward of x_0 on the same weights, each cosine computed in float64 on the host. The mask is the one MDLM draws
    /// from the same seed.
    /// </summary>
    [Fact]
    public void TheLossMatchesAHandComputedCase()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModel();
        using var batch = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 8, vocab: 255, seed: 4);
        var method = new A2dMethod(Context(model, Lambda));
        var result = method.Loss(batch, new Generator(5));

        // the same draws by hand: t and x_t from MDLM with the same seed
        var mdlm = new MdlmMethod(Context(model, Lambda));
        var forward = mdlm.TrainingForward(batch, new Generator(5));
        using var noGrad = no_grad();
        var student = model.forward(batch.ToModelInput(AttentionPolicy.Bidirectional) with { Tokens = forward.Noisy.Tokens, ReturnHiddenStates = true });
        var teacher = model.forward(batch.ToModelInput(AttentionPolicy.Causal) with { ReturnHiddenStates = true });
        var options = new MdlmLossOptions { Weighting = MdlmWeighting.OpenDllmV1, ShiftLogits = true, MaskTokenId = 255, Schedule = OpenDllm.Schedules.LinearSchedule.Instance };
        var documentEnd = DocumentEnds.Of(batch.DocumentIds, batch.KeyPadding);
        double mdm = MdlmLoss.Compute(student.Logits, batch.Tokens, forward.Noisy.Masked, forward.T, options, batch.KeyPadding, documentEnd).Loss.item<float>();

        var masked = forward.Noisy.Masked.to(ScalarType.Bool).data<bool>().ToArray();           // [2·16]
        double cosSum = 0; int terms = 0;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 15; i++)
            {
                bool documentEndAt = i % 8 == 7;                                                // documents of 8 tokens
                if (!masked[b * 16 + i + 1] || documentEndAt) continue;                         // output i predicts token i + 1
                for (int l = 0; l < student.HiddenStates!.Count; l++)
                {
                    var s = student.HiddenStates[l][b, i].to(ScalarType.Float64).data<double>().ToArray();
                    var t = teacher.HiddenStates![l][b, i].to(ScalarType.Float64).data<double>().ToArray();
                    double dot = s.Zip(t, (x, y) => x * y).Sum(), ns = Math.Sqrt(s.Sum(x => x * x)), nt = Math.Sqrt(t.Sum(x => x * x));
                    cosSum += dot / (ns * nt);
                    terms++;
                }
            }
        Assert.True(terms > 0, "the seed gave no masked target; pick another");
        Assert.Equal(ModelConfig.Tiny.NumHiddenLayers + 1, student.HiddenStates!.Count);
        double align = 1 - cosSum / terms;
        Assert.InRange(align, 1e-4, 2);                                                        // bidirectional x_t ≠ causal x_0

        Assert.Equal(mdm, result.Metrics!["mdm_loss"].item<float>(), 4);
        Assert.Equal(align, result.Metrics["align_loss"].item<float>(), 4);
        Assert.Equal(mdm + Lambda * align, result.Loss.item<float>(), 3);
        Assert.Equal(1f, result.MetricWeights!["align_loss"].item<float>());
    }

    /// <summary>
    /// A micro-batch without masked targets (an SFT batch that is all prompt) skips the alignment term: the loss is L_MDM
    /// (0 here), not L_MDM + λ·1, its gradient is finite, and the metric carries weight 0 so step averages ignore it.
    /// </summary>
    [Fact]
    public void AMicroBatchWithoutMaskedTargetsSkipsTheTerm()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModel();
        using var open = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 8, vocab: 255, seed: 4);
        using var batch = new PackedBatch(open.Tokens, open.PositionIds, open.DocumentIds, open.KeyPadding, 0, open.Next,
                                          prompt: ones(2, 16, dtype: ScalarType.Bool));
        var method = new A2dMethod(Context(model, Lambda));
        var result = method.Loss(batch, new Generator(5));
        Assert.Equal(0f, result.Loss.item<float>());
        Assert.Equal(0f, result.MetricWeights!["align_loss"].item<float>());
        result.Loss.backward();
        Assert.All(model.parameters(), p => Assert.True(p.grad is null || p.grad.isfinite().all().item<bool>()));
    }

    /// <summary>The sync-free alignment equals the gathering one where M is not empty, and says "absent" where it is.</summary>
    [Fact]
    public void TheSyncFreeAlignmentMatchesTheGatheringOne()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(9);
        var s = Enumerable.Range(0, 3).Select(_ => randn(2, 5, 4, generator: g)).ToList();
        var t = Enumerable.Range(0, 3).Select(_ => randn(2, 5, 4, generator: g)).ToList();
        var active = tensor(new bool[,] { { true, false, true, false, false }, { false, false, false, true, true } });
        var (loss, present) = RepresentationAlignmentLoss.Masked(s, t, active);
        Assert.Equal(RepresentationAlignmentLoss.AtPositions(s, t, active)!.item<float>(), loss.item<float>(), 5);
        Assert.Equal(1f, present.item<float>());
        var none = zeros(2, 5, dtype: ScalarType.Bool);
        Assert.Null(RepresentationAlignmentLoss.AtPositions(s, t, none));
        Assert.Equal(0f, RepresentationAlignmentLoss.Masked(s, t, none).Present.item<float>());
    }
}
