using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>The autoregressive baseline: next-token cross entropy of a causal forward.</summary>
public static class AutoregressiveLoss
{
    /// <summary>
    /// The reference (dense) loss: L = (1/N) Σ_{i ∈ T} −log p_θ(y_{i+1} | y_{≤i}),
    /// T = {i &lt; L − 1 : y_{i+1} ≠ ignoreIndex ∧ targetMask[i+1]}, N = |T|; 0 (with a zero gradient) when N = 0.
    /// <paramref name="logits"/> [B, L, V], <paramref name="ids"/> [B, L] long, optional <paramref name="targetMask"/> [B, L]
    /// bool (e.g. false on the first token of every packed document but the first, Open-dLLM's <c>casual_labels</c>, SPEC §2.2).
    /// </summary>
    public static TokenLossResult NextToken(Tensor logits, Tensor ids, Tensor? targetMask = null, long ignoreIndex = -100)
    {
        CheckShapes(logits.shape, ids);
        using var scope = NewDisposeScope();

        // 1. output i scores token i + 1                                               [B, L−1, V], [B, L−1]
        var pred = LossTargets.Predictions(logits, shift: true);
        var target = LossTargets.Targets(ids, shift: true);

        // 2. the targets that count                                                    [B, L−1] bool
        var active = Active(ids, targetMask, ignoreIndex);

        // 3. CE at the targets (ignored ids replaced by 0 so the gather stays in range) [B, L−1]
        var ce = where(active, MdlmLoss.CrossEntropy(pred, where(active, target, 0L)), 0f);

        // 4. mean over the targets                                                     []
        return Mean(ce, active).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss from the final hidden states and head weight (<see cref="Qwen2Model.ForwardToHead"/>): the head is
    /// applied only at the rows that predict a target, a chunk at a time (<see cref="ChunkedCrossEntropy"/>), so [B, L, V]
    /// logits are never formed. Value and gradient equal the dense overload's up to float32 rounding.
    /// </summary>
    public static TokenLossResult NextToken(HeadInput head, Tensor ids, Tensor? targetMask = null, long ignoreIndex = -100)
    {
        CheckShapes(head.LogitsShape, ids);
        using var scope = NewDisposeScope();
        var active = Active(ids, targetMask, ignoreIndex);                                          // [B, L−1] bool
        var ce = MdlmLoss.SelectedCrossEntropy(head, ids, active, shift: true);                     // [B, L−1]
        return Mean(ce, active).MoveToOuterDisposeScope();
    }

    /// <summary>T as a mask over the predictions [B, L−1]: the target is not ignored and is allowed by the target mask.</summary>
    static Tensor Active(Tensor ids, Tensor? targetMask, long ignoreIndex)
    {
        var active = LossTargets.Targets(ids, shift: true).ne(ignoreIndex);
        return targetMask is null ? active : active & LossTargets.Targets(targetMask.to(ScalarType.Bool), shift: true);
    }

    /// <summary>Σ CE / max(N, 1) with N kept on the device.</summary>
    static TokenLossResult Mean(Tensor ce, Tensor active)
    {
        var n = active.sum();                                                                        // [] long
        var loss = ce.sum() / n.clamp_min(1).to(ScalarType.Float32);
        return new TokenLossResult(loss, ce.detach(), n);
    }

    static void CheckShapes(long[] logits, Tensor ids)
    {
        if (logits.Length != 3 || ids.dim() != 2 || logits[0] != ids.shape[0] || logits[1] != ids.shape[1])
            throw new ArgumentException($"logits [B, L, V] and ids [B, L] expected, got [{string.Join(", ", logits)}] and [{string.Join(", ", ids.shape)}]");
    }
}
