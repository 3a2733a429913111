using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>The autoregressive baseline: next-token cross entropy of a causal forward.</summary>
public static class AutoregressiveLoss
{
    /// <summary>
    /// L = (1/N) Σ_{i ∈ T} −log p_θ(y_{i+1} | y_{≤i}),  T = {i &lt; L − 1 : y_{i+1} ≠ ignoreIndex ∧ targetMask[i+1]}, N = |T|;
    /// 0 (with a zero gradient) when N = 0. <paramref name="logits"/> [B, L, V], <paramref name="ids"/> [B, L] long,
    /// optional <paramref name="targetMask"/> [B, L] bool (e.g. false on the first token of every packed document but the
    /// first, Open-dLLM's <c>casual_labels</c>, SPEC §2.2).
    /// </summary>
    public static TokenLossResult NextToken(Tensor logits, Tensor ids, Tensor? targetMask = null, long ignoreIndex = -100)
    {
        if (logits.dim() != 3 || ids.dim() != 2 || logits.shape[0] != ids.shape[0] || logits.shape[1] != ids.shape[1])
            throw new ArgumentException($"logits [B, L, V] and ids [B, L] expected, got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", ids.shape)}]");
        using var scope = NewDisposeScope();

        // 1. output i scores token i + 1                                               [B, L−1, V], [B, L−1]
        var pred = LossTargets.Predictions(logits, shift: true);
        var target = LossTargets.Targets(ids, shift: true);

        // 2. the targets that count                                                    [B, L−1] bool
        var active = target.ne(ignoreIndex);
        if (targetMask is not null) active = active & LossTargets.Targets(targetMask.to(ScalarType.Bool), shift: true);

        // 3. CE at the targets (ignored ids replaced by 0 so the gather stays in range) [B, L−1]
        var ce = where(active, MdlmLoss.CrossEntropy(pred, where(active, target, 0L)), 0f);

        // 4. mean over the targets                                                     []
        long n = active.sum().item<long>();
        var loss = ce.sum() / Math.Max(n, 1);
        return new TokenLossResult(loss.MoveToOuterDisposeScope(), ce.detach().MoveToOuterDisposeScope(), n);
    }
}
