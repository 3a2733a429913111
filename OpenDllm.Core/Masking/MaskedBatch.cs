using static TorchSharp.torch;

namespace OpenDllm.Masking;

/// <summary>
/// A batch after the forward (absorbing) process at per-token times (SPEC §1.1).
/// </summary>
/// <param name="Tokens">x_t [B, L] int64: x0 with masked positions set to the mask id.</param>
/// <param name="Masked">[B, L] bool: true where x_t = m because of this masking (the loss positions).</param>
/// <param name="TPerToken">[B, L] float: the diffusion time of each token (constant within a sequence, document or block).</param>
public sealed record MaskedBatch(Tensor Tokens, Tensor Masked, Tensor TPerToken);
