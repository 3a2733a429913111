using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// The LDLM losses (SPEC §6.3; Meshchaninov et al., "How to Train Your Latent Diffusion Language Model Jointly With the
/// Latent Space", <see href="https://arxiv.org/abs/2605.07933"/>). Total [seed]: L = γ(s)·L_diff + L_h + L_w, with γ from
/// <see cref="DiffusionWarmup"/>. Squared norms are taken as element means (MSE); the paper's scale is not public.
/// </summary>
public static class LatentDiffusionLosses
{
    /// <summary>
    /// L_w = (1/N) Σ_{i non-pad} −log p(w_i | Dec(z)), the token reconstruction CE of the decoder logits [B, L, V] against
    /// the tokens [B, L] (unshifted: the decoder reconstructs position i at i). <paramref name="nonPad"/> [B, L] bool; null = all.
    /// </summary>
    public static TokenLossResult TokenReconstruction(Tensor logits, Tensor tokens, Tensor? nonPad = null)
    {
        using var scope = NewDisposeScope();
        var keep = nonPad?.to(ScalarType.Bool) ?? ones_like(tokens, ScalarType.Bool);             // [B, L]
        var ce = where(keep, MdlmLoss.CrossEntropy(logits, where(keep, tokens, 0L)), 0f);          // [B, L]
        var n = keep.sum();                                                                          // [] long, on the device
        var loss = ce.sum() / n.clamp_min(1).to(ScalarType.Float32);
        return new TokenLossResult(loss, ce.detach(), n).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L_h = mean ‖Dec(z + σ_dec·ε) − h‖², ε ~ N(0, I) drawn from <paramref name="generator"/>: the decoder regresses the
    /// frozen LM hidden states <paramref name="hidden"/> [B, L, D] from noisy latents <paramref name="latents"/> [B, K, d]
    /// (decoder-input noise, robustness to imperfect generated latents). σ_dec = 0 feeds z unchanged.
    /// The mean runs over D and the non-pad positions (<paramref name="nonPad"/> [B, L] bool; null = all).
    /// </summary>
    public static Tensor DecoderMse(Tensor latents, Func<Tensor, Tensor> decoder, Tensor hidden, double sigmaDec,
                                    Generator generator, Tensor? nonPad = null)
    {
        if (!(sigmaDec >= 0) || double.IsInfinity(sigmaDec)) throw new ArgumentOutOfRangeException(nameof(sigmaDec), sigmaDec, "σ_dec must be finite and ≥ 0");
        using var scope = NewDisposeScope();

        // 1. decoder-input noise                                                             [B, K, d]
        var zIn = latents;
        if (sigmaDec > 0)
        {
            var eps = randn(latents.shape, dtype: latents.dtype, generator: generator).to(latents.device);
            zIn = latents.AddScaled(eps.MulScalar(sigmaDec));                // ScalarOps: kept Scalars, same rounding as + and *
        }

        // 2. decode and compare                                                              [B, L, D]
        var hHat = decoder(zIn);
        if (!hHat.shape.SequenceEqual(hidden.shape))
            throw new ArgumentException($"decoder output [{string.Join(", ", hHat.shape)}] differs from the hidden states [{string.Join(", ", hidden.shape)}]");
        return HiddenMse(hHat, hidden, nonPad).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L_h of decoded hidden states: Σ_{i kept} mean_D (ĥ_i − sg(h_i))² / #kept, for <paramref name="hHat"/> and
    /// <paramref name="hidden"/> [B, L, D] and <paramref name="nonPad"/> [B, L] bool (null = all). For callers that need ĥ
    /// itself too (LDLM's token decoder reads it); <see cref="DecoderMse"/> decodes and calls this.
    /// </summary>
    public static Tensor HiddenMse(Tensor hHat, Tensor hidden, Tensor? nonPad = null)
    {
        var sq = (hHat - hidden.detach()).pow(2).mean([-1]);                                       // [B, L]
        var keep = nonPad?.to(sq.dtype) ?? ones_like(sq);
        return (sq * keep).sum() / keep.sum().clamp_min(1);
    }

    /// <summary>L_diff = mean ‖ẑ_0(z_t, t) − z‖², the x0-prediction MSE of the denoiser (<paramref name="predictedX0"/> and
    /// <paramref name="latents"/> [B, K, d]). The target is not detached: the encoder learns through it (scale its gradient
    /// with <see cref="DiffusionWarmup.ScaleGradient"/>).</summary>
    public static Tensor DiffusionX0Mse(Tensor predictedX0, Tensor latents)
    {
        if (!predictedX0.shape.SequenceEqual(latents.shape))
            throw new ArgumentException($"ẑ0 [{string.Join(", ", predictedX0.shape)}] and z [{string.Join(", ", latents.shape)}] differ");
        return nn.functional.mse_loss(predictedX0, latents, nn.Reduction.Mean);
    }
}
