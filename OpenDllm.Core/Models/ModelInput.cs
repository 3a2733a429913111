using OpenDllm.Attention;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// Everything one forward of a Qwen2-family model takes (STYLE §3.10: typed records instead of long argument lists).
/// </summary>
/// <param name="Tokens">[B, Lq] token ids.</param>
/// <param name="Attention">causal, bidirectional, block-diffusion or explicit. Required, with no default: the same weights
/// give different logits under each, and a diffusion toolkit that silently fell back to causal would hand a diffusion
/// model the wrong mask. Null throws <see cref="ArgumentNullException"/> (also from F# or a notebook without nullable checks).</param>
/// <param name="PositionIds">[B, Lq] or [Lq] rotary positions; default <c>CacheOffset … CacheOffset+Lq−1</c>.
/// Packed documents restart them at 0 per document (SPEC §2.1).</param>
/// <param name="KeyPadding">[B, Lk] bool, true for real tokens (Lk = cache length after this call, or Lq).</param>
/// <param name="DocumentIds">[B, Lq] packed-document ids: no attention across documents (without a cache).</param>
/// <param name="Cache">keys/values of earlier positions, or null.</param>
/// <param name="CacheOffset">where this call's keys go in the cache; default = end of <paramref name="Cache"/> (append).
/// A smaller value overwrites positions [CacheOffset, CacheOffset + Lq) (Fast-dLLM dual cache, SPEC §5.4).</param>
/// <param name="ReturnCache">return the keys/values this call attended to as a new <see cref="KvCache"/>.</param>
/// <param name="ReturnHiddenStates">return the HF-style hidden states (SPEC §3).</param>
/// <param name="OutputPositions">[B, Lq] bool: apply the LM head only there; <see cref="ModelOutput.Logits"/> is then
/// [N, V] for the N selected positions in row-major order (samplers need logits at masked positions only).</param>
public sealed record ModelInput(
    Tensor Tokens,
    AttentionPolicy Attention,
    Tensor? PositionIds = null,
    Tensor? KeyPadding = null,
    Tensor? DocumentIds = null,
    KvCache? Cache = null,
    long? CacheOffset = null,
    bool ReturnCache = false,
    bool ReturnHiddenStates = false,
    Tensor? OutputPositions = null)
{
    /// <summary>The attention policy of this forward (never null).</summary>
    public AttentionPolicy Attention { get; init => field = value ?? throw Missing(); } = Attention ?? throw Missing();

    static ArgumentNullException Missing() =>
        new(nameof(Attention), "ModelInput needs an attention policy (causal, bidirectional, block diffusion or explicit)");
}

/// <summary>What a forward returns.</summary>
/// <param name="Logits">[B, Lq, V], unshifted: position i's row is the model's output at position i
/// ([N, V] when <see cref="ModelInput.OutputPositions"/> selects positions).</param>
/// <param name="HiddenStates">num_layers + 1 tensors [B, Lq, D] as in Hugging Face: the embedding output, the input of
/// every later layer, and the final-norm output (what representation alignment uses, SPEC §3).</param>
/// <param name="Cache">the keys/values this call attended to (cache + new), when requested.</param>
public sealed record ModelOutput(Tensor Logits, IReadOnlyList<Tensor>? HiddenStates = null, KvCache? Cache = null);

/// <summary>
/// What the LM head would be applied to (<see cref="Qwen2Model.ForwardToHead"/>): logits = <paramref name="Hidden"/>·<paramref name="Weight"/>ᵀ,
/// left for the loss to form a chunk of rows at a time.
/// </summary>
/// <param name="Hidden">[B, Lq, D] final-norm hidden states (with grad when training).</param>
/// <param name="Weight">[V, D] the head weight (the embedding matrix when tied).</param>
/// <param name="ChunkRows">rows of logits formed at once; 0 = as many as fit in
/// <see cref="Objectives.ChunkedCrossEntropy.DefaultChunkBytes"/> of float32 logits.</param>
public sealed record HeadInput(Tensor Hidden, Tensor Weight, long ChunkRows = 0)
{
    /// <summary>The num_layers + 1 HF hidden states [B, Lq, D] of the same forward (the last one is <see cref="Hidden"/>),
    /// when <see cref="ModelInput.ReturnHiddenStates"/> asked for them; otherwise null.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; init; }

    /// <summary>[V] a decoder bias added to every row of logits (logits = h·Wᵀ + b), or null: BERT's MLM head has one
    /// (<c>cls.predictions.bias</c>), Qwen2's LM head none.</summary>
    public Tensor? Bias { get; init; }

    /// <summary>[B, Lq, V]: the shape of the logits this input stands for (throws unless Hidden is [B, Lq, D] and Weight [V, D]).</summary>
    public long[] LogitsShape => Hidden.dim() == 3 && Weight.dim() == 2 && Hidden.shape[2] == Weight.shape[1]
        ? [Hidden.shape[0], Hidden.shape[1], Weight.shape[0]]
        : throw new ArgumentException($"head input must be hidden [B, L, D] and weight [V, D], got [{string.Join(", ", Hidden.shape)}] and [{string.Join(", ", Weight.shape)}]");
}
