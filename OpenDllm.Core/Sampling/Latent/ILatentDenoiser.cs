using static TorchSharp.torch;

namespace OpenDllm.Sampling.Latent;

/// <summary>
/// The only thing a latent sampler sees of a latent diffusion model (LDLM, SPEC §6): an x0-prediction of the clean
/// latents from noisy ones at a time, with self-conditioning (SPEC §6.6). Any denoiser (the DiT of LDLM, an analytic one
/// in a test) works with any latent sampler.
/// </summary>
public interface ILatentDenoiser
{
    /// <summary>K, the number of latent vectors per sequence.</summary>
    long Latents { get; }

    /// <summary>d, the width of one latent vector.</summary>
    long LatentDim { get; }

    /// <summary>
    /// ẑ₀ = f(z_t, t, ẑ₀^sc): the clean latents [B, K, d] predicted from the noisy latents <paramref name="noisy"/>
    /// [B, K, d] at times <paramref name="time"/> [B] (float, in [0, 1]) given the self-conditioning input
    /// <paramref name="selfCondition"/> [B, K, d] (zeros when there is none). No dispose scope of its own is required:
    /// the caller's scope owns the temporaries.
    /// </summary>
    Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition);
}

/// <summary>Turns latents into tokens (LDLM's Perceiver decoder and token decoder, SPEC §6.1).</summary>
public interface ILatentDecoder
{
    /// <summary>L, the number of tokens decoded from one latent sequence (the decoder's query count).</summary>
    long Length { get; }

    /// <summary>Rows of the logits' last dimension.</summary>
    int VocabSize { get; }

    /// <summary>Token logits [B, L, V] of the latents [B, K, d].</summary>
    Tensor Logits(Tensor latents);
}
