using OpenDllm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>How a masked position's confidence is scored (SPEC §5.1).</summary>
public enum ConfidenceKind
{
    /// <summary>Probability of the chosen token (maskgit_plus, origin, p2).</summary>
    Probability,
    /// <summary>p₁ − p₂, the margin between the two most likely tokens (topk_margin).</summary>
    Margin,
    /// <summary>Σ p log p = −H (larger is surer), with log of clamp(p, 1e-10) (entropy).</summary>
    NegativeEntropy,
}

/// <summary>Token proposals and confidences from logits, in the order of SPEC §5.1.</summary>
public static class TokenChoice
{
    /// <summary>
    /// logits / T (if T &gt; 0) → top-p (sorted cumulative softmax &gt; p removed, the first always kept) → top-k.
    /// Removed entries become −∞.
    /// </summary>
    public static Tensor Filter(Tensor logits, double temperature, double? topP, int? topK)
    {
        using var scope = NewDisposeScope();
        if (temperature > 0) logits = logits.DivScalar(temperature);      // ScalarOps: per-step Scalars kept alive
        if (topP is { } p && p < 1)
        {
            var (sorted, order) = logits.sort(-1, descending: true);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var remove = ScalarOps.With(p, s => cumulative.gt(s));
            // shift right so the token crossing p is kept, and the first is always kept
            remove = cat([zeros_like(remove.narrow(-1, 0, 1)), remove.narrow(-1, 0, remove.shape[^1] - 1)], -1);
            var removeOriginal = zeros_like(remove).scatter(-1, order, remove);
            logits = logits.masked_fill(removeOriginal, ScalarOps.NegativeInfinity);
        }
        if (topK is { } k && k > 0 && k < logits.shape[^1])
        {
            var kth = logits.topk(k, -1).values.narrow(-1, k - 1, 1);
            logits = logits.masked_fill(logits < kth, ScalarOps.NegativeInfinity);
        }
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// For logits [N, V]: the chosen token (argmax at T = 0, else a categorical sample of the filtered softmax, one
    /// seeded uniform per row, <see cref="SeededDraws.Categorical"/>) and its confidence of <paramref name="kind"/>, both
    /// [N]. Softmax in float32. <paramref name="generator"/> is needed when T &gt; 0.
    /// </summary>
    public static (Tensor Confidence, Tensor Token) Choose(Tensor logits, double temperature, double? topP, int? topK,
                                                          ConfidenceKind kind, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var probs = Filter(logits, temperature, topP, topK).to(ScalarType.Float32).softmax(-1);     // [N, V]
        var token = temperature > 0 ? SeededDraws.Categorical(probs, Seeded(generator)) : probs.argmax(-1);
        var confidence = kind switch
        {
            ConfidenceKind.Probability => probs.gather(-1, token.unsqueeze(-1)).squeeze(-1),
            ConfidenceKind.Margin => Margin(probs),
            ConfidenceKind.NegativeEntropy => (probs * ScalarOps.With(1e-10, s => probs.clamp_min(s)).log()).sum(-1),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        return (confidence.MoveToOuterDisposeScope(), token.MoveToOuterDisposeScope());
    }

    static Tensor Margin(Tensor probs)
    {
        var top2 = probs.topk(2, -1).values;
        return top2.select(-1, 0) - top2.select(-1, 1);
    }

    /// <summary>
    /// LLaDA's proposal x0 ~ softmax(logits / T) (SPEC §5.1), T = 0: plain argmax. LLaDA draws it with the Gumbel-max
    /// trick in float64, x0 = argmax exp(logits) / (−log U)^T, which needs one uniform per vocabulary entry; here the same
    /// law is drawn by inverse CDF of the float64 softmax(logits / T) with one seeded uniform per position
    /// (<see cref="SeededDraws.Categorical"/>), so no [.., V] noise is made or copied to the device. Logits [.., V] → x0 [..].
    /// </summary>
    public static Tensor SampleTempered(Tensor logits, double temperature, Generator? generator)
    {
        using var scope = NewDisposeScope();
        if (temperature == 0) return logits.argmax(-1).MoveToOuterDisposeScope();
        long vocab = logits.shape[^1];
        var probs = logits.to(ScalarType.Float64).reshape(-1, vocab).DivScalar(temperature).softmax(-1);     // [N, V]
        var token = SeededDraws.Categorical(probs, Seeded(generator));                               // [N]
        return token.reshape(logits.shape[..^1]).MoveToOuterDisposeScope();
    }

    static Generator Seeded(Generator? generator) =>
        generator ?? throw new ArgumentNullException(nameof(generator), "sampling at temperature > 0 needs a seeded generator");

    /// <summary>Shifted (AR-initialised) models: row j takes the model output at j − 1; row 0 keeps its own (SPEC §2.3).</summary>
    public static Tensor AlignShiftedLogits(Tensor logits) =>
        cat([logits.narrow(1, 0, 1), logits.narrow(1, 0, logits.shape[1] - 1)], 1);
}
