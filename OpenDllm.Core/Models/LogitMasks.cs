using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// Edits of a model's logits that training losses and samplers share. Lives next to the model, not in Objectives or
/// Sampling, so neither of those depends on the other.
/// </summary>
public static class LogitMasks
{
    /// <summary>
    /// Forbids one token: <c>logit[..., token] = −∞</c>, so softmax gives it probability 0 and argmax never picks it. With
    /// the <c>[MASK]</c> id this is SUBS (SPEC §1.3): the model never predicts <c>[MASK]</c>, in the loss or while sampling.
    /// Writes into <paramref name="logits"/> [..., V] and returns it; under autograd the column's gradient is 0.
    /// Throws when <paramref name="token"/> is not in [0, V).
    /// </summary>
    public static Tensor SuppressTokenInPlace(Tensor logits, long token)
    {
        long v = logits.shape[^1];
        if (token < 0 || token >= v) throw new ArgumentOutOfRangeException(nameof(token), token, $"outside the vocabulary of {v}");
        logits.narrow(-1, token, 1).fill_(double.NegativeInfinity);
        return logits;
    }

    /// <summary><see cref="SuppressTokenInPlace"/> on a copy: <paramref name="logits"/> is left as it was. [..., V] → [..., V]</summary>
    public static Tensor SuppressToken(Tensor logits, long token) => SuppressTokenInPlace(logits.clone(), token);
}
