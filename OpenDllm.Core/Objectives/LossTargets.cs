using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// Which output position predicts which token, and which predictions enter a loss (SPEC §2.3, §3).
/// <para>
/// Unshifted (LLaDA, MDLM): the output at position i predicts token i; L′ = L.
/// Shifted (Dream, Open-dLLM, AR-initialised models): the output at position i predicts token i + 1, so predictions
/// are <c>x[:, :-1]</c>, targets are <c>x0[:, 1:]</c>, L′ = L − 1, and position 0 is never a target.
/// </para>
/// <para>
/// A prediction is a <i>candidate</i> when its target token may be a loss target (<c>maskable</c>, dllm's
/// <c>labels != -100</c>) and, when shifted, its position is not the last token of a packed document
/// (<c>documentEnd</c>, Open-dLLM's IGNORE at document ends, so no document predicts the next one's first token).
/// It is <i>active</i> when it is a candidate and its target was masked.
/// </para>
/// </summary>
public static class LossTargets
{
    /// <summary>The predicting positions along dim 1: <c>x[:, :-1]</c> when shifted, else <c>x</c>. [B, L′, ...]</summary>
    public static Tensor Predictions(Tensor x, bool shift) =>
        shift ? x[TensorIndex.Colon, TensorIndex.Slice(null, -1)] : x;

    /// <summary>The predicted positions along dim 1: <c>x[:, 1:]</c> when shifted, else <c>x</c>. [B, L′, ...]</summary>
    public static Tensor Targets(Tensor x, bool shift) =>
        shift ? x[TensorIndex.Colon, TensorIndex.Slice(1, null)] : x;

    /// <summary>
    /// Candidate predictions [B, L′] bool: <c>maskable[target] ∧ ¬documentEnd[prediction]</c> (documentEnd only when shifted;
    /// unshifted, every position predicts itself and cannot leak into the next document). Both masks are optional [B, L] bool.
    /// </summary>
    public static Tensor Candidates(long batch, long length, bool shift, Device device, Tensor? maskable = null, Tensor? documentEnd = null)
    {
        using var scope = NewDisposeScope();
        long width = shift ? length - 1 : length;
        var candidates = ones(new[] { batch, width }, ScalarType.Bool, device);      // [B, L′]
        if (maskable is not null) candidates = candidates & Targets(maskable.to(ScalarType.Bool), shift);
        if (shift && documentEnd is not null) candidates = candidates & Predictions(documentEnd.to(ScalarType.Bool), shift).logical_not();
        return candidates.MoveToOuterDisposeScope();
    }

    /// <summary>Active predictions [B, L′] bool: candidates whose target token was masked (<c>masked</c> [B, L], bool or 0/1).</summary>
    public static Tensor Active(Tensor masked, bool shift, Tensor? maskable = null, Tensor? documentEnd = null)
    {
        using var scope = NewDisposeScope();
        var candidates = Candidates(masked.shape[0], masked.shape[1], shift, masked.device, maskable, documentEnd);
        return (Targets(masked.to(ScalarType.Bool), shift) & candidates).MoveToOuterDisposeScope();
    }
}
