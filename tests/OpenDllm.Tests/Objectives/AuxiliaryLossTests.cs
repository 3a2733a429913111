using OpenDllm.Objectives;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary>AR next-token loss, LDLM losses and warmup, and MDLM edge facts.</summary>
public class AuxiliaryLossTests
{
    [Fact]
    public void ArLossIsMeanNextTokenCeOverNonIgnoredTargets()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        var logits = randn(new long[] { 2, 5, 6 }, generator: g);
        var ids = tensor(new long[,] { { 1, 2, -100, 4, 5 }, { 0, 3, 3, 2, -100 } });
        var result = AutoregressiveLoss.NextToken(logits, ids);
        var lsm = logits.log_softmax(-1);
        double sum = 0; int n = 0;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 4; i++)
            {
                long y = ids[b, i + 1].item<long>();
                if (y == -100) continue;
                sum -= lsm[b, i, y].item<float>(); n++;
            }
        Assert.Equal(6, n);
        Assert.Equal(n, result.NumTargets);
        Assert.Equal(sum / n, result.Loss.item<float>(), 5);
        var firstOnly = AutoregressiveLoss.NextToken(logits, ids, targetMask: zeros(2, 5, ScalarType.Bool));
        Assert.Equal(0f, firstOnly.Loss.item<float>());
        Assert.Equal(0, firstOnly.NumTargets);
    }

    [Fact]
    public void WarmupGammaTestVectors()
    {
        Assert.Equal(3.35e-4, DiffusionWarmup.Gamma(0.0), 6);
        Assert.Equal(0.0474, DiffusionWarmup.Gamma(0.5), 4);
        Assert.Equal(0.5, DiffusionWarmup.Gamma(0.8), 12);
        Assert.Equal(0.8808, DiffusionWarmup.Gamma(1.0), 4);
        Assert.Equal(DiffusionWarmup.Gamma(0.5), DiffusionWarmup.Gamma(500, 1000), 12);
    }

    [Fact]
    public void GradientScalingKeepsTheValueAndScalesTheGradient()
    {
        using var scope = NewDisposeScope();
        var z = tensor(new float[] { 1, -2, 3 }).requires_grad_(true);
        var zin = DiffusionWarmup.ScaleGradient(z, 0.25);
        Assert.True(Fixture.Same(z.detach(), zin.detach()));
        zin.sum().backward();
        Assert.Equal(new[] { 0.25f, 0.25f, 0.25f }, z.grad!.data<float>().ToArray());
    }

    [Fact]
    public void LdlmLossesKnownValues()
    {
        using var scope = NewDisposeScope();
        // L_w: uniform logits ⇒ CE = log V at every non-pad token
        var lw = LatentDiffusionLosses.TokenReconstruction(zeros(1, 4, 8), tensor(new long[,] { { 1, 2, 3, 0 } }),
                                                           tensor(new[,] { { true, true, true, false } }));
        Assert.Equal(Math.Log(8), lw.Loss.item<float>(), 5);
        Assert.Equal(3, lw.NumTargets);

        // L_h: identity decoder, z = h ⇒ 0 without noise; with σ the noise is reproducible from the generator, mean ≈ σ²
        var z = randn(new long[] { 2, 64, 32 }, generator: new Generator(1));
        Assert.Equal(0f, LatentDiffusionLosses.DecoderMse(z, x => x, z, 0.0, new Generator(3)).item<float>());
        var a = LatentDiffusionLosses.DecoderMse(z, x => x, z, 0.5, new Generator(3)).item<float>();
        var b = LatentDiffusionLosses.DecoderMse(z, x => x, z, 0.5, new Generator(3)).item<float>();
        var c = LatentDiffusionLosses.DecoderMse(z, x => x, z, 0.5, new Generator(4)).item<float>();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.InRange(a, 0.25 * 0.9, 0.25 * 1.1);

        // L_diff: plain MSE
        Assert.Equal(4f, LatentDiffusionLosses.DiffusionX0Mse(full(new long[] { 2, 3 }, 3f), ones(2, 3)).item<float>());
    }

    [Fact]
    public void SubsRemovesTheMaskTokenFromTheSoftmax()
    {
        using var scope = NewDisposeScope();
        // V = 3, mask id 2: uniform logits ⇒ CE = log 3 without SUBS, log 2 with it
        var logits = zeros(1, 2, 3);
        var x0 = tensor(new long[,] { { 0, 1 } });
        var masked = tensor(new[,] { { true, true } });
        var t = tensor(new float[] { 1f });
        var plain = MdlmLoss.Compute(logits, x0, masked, t, new MdlmLossOptions());
        var subs = MdlmLoss.Compute(logits, x0, masked, t, new MdlmLossOptions { MaskTokenId = 2 });
        Assert.Equal(Math.Log(3), plain.Loss.item<float>(), 5);
        Assert.Equal(Math.Log(2), subs.Loss.item<float>(), 5);
    }

    [Fact]
    public void ShiftNeverTargetsPositionZeroAndDocumentEndsDoNotPredictTheNextDocument()
    {
        using var scope = NewDisposeScope();
        var masked = tensor(new[,] { { true, true, false, true } });
        Assert.Equal(new[] { true, false, true }, LossTargets.Active(masked, shift: true).data<bool>().ToArray());
        var end = tensor(new[,] { { false, false, true, false } });        // doc 1 = positions 0–2, doc 2 starts at 3
        Assert.Equal(new[] { true, false, false }, LossTargets.Active(masked, shift: true, documentEnd: end).data<bool>().ToArray());
        Assert.Equal(new[] { true, true, false, true }, LossTargets.Active(masked, shift: false, documentEnd: end).data<bool>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new MdlmLossOptions { MaskedTokensGuard = 0 }.Validate());
    }
}
