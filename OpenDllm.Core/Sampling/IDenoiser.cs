using OpenDllm.Attention;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// The only thing a sampler sees of a model (dLLM's design, STYLE §3.5): tokens, an attention policy, positions, an
/// optional KV cache → logits. Any model — the Qwen2 family, a later block or latent model — works with any sampler.
/// </summary>
public interface IDenoiser
{
    /// <summary>Rows of the logits' last dimension.</summary>
    int VocabSize { get; }

    /// <summary>The <c>[MASK]</c> id the model was trained with.</summary>
    long MaskId { get; }

    /// <summary>
    /// True for AR-initialised models (Dream, Open-dCoder) whose output at position i predicts token i+1 (SPEC §2.3).
    /// Samplers re-align with <see cref="TokenChoice.AlignShiftedLogits"/> and need a non-mask first token.
    /// </summary>
    bool ShiftedLogits { get; }

    /// <summary>One forward: logits [B, Lq, V] (unshifted rows, as the model emits them) and the cache if asked for.</summary>
    DenoiserOutput Forward(DenoiserInput input);
}

/// <summary>A denoiser call. <see cref="CacheOffset"/> and <see cref="OutputPositions"/> as in <see cref="ModelInput"/>
/// (with output positions the logits are [N, V] for the selected positions, row-major).</summary>
public sealed record DenoiserInput(
    Tensor Tokens,
    AttentionPolicy Attention,
    Tensor? PositionIds = null,
    Tensor? KeyPadding = null,
    KvCache? Cache = null,
    long? CacheOffset = null,
    bool ReturnCache = false,
    Tensor? OutputPositions = null);

/// <summary>Logits [B, Lq, V] and the keys/values the call attended to (when requested).</summary>
public sealed record DenoiserOutput(Tensor Logits, KvCache? Cache = null);
