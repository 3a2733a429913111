using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Checks and logit edits every sampler shares.</summary>
internal static class SamplingGuards
{
    /// <summary>Shifted models predict token j from position j − 1, so column 0 must not be a mask (SPEC §1.4, §2.3).</summary>
    public static void RequireLeadingToken(IDenoiser denoiser, Tensor x, long maskId)
    {
        if (denoiser.ShiftedLogits && x.select(1, 0).eq(maskId).any().item<bool>())
            throw new ArgumentException("a shifted (AR-initialised) model needs a non-mask first token in every row (a prompt or BOS)");
    }

    /// <summary>Rotary positions that skip padding: cumsum(real) − 1 (Dream's <c>tok_idx</c>, SPEC §5.2); null without padding.</summary>
    public static Tensor? PositionIds(Tensor? keyPadding) =>
        keyPadding is null ? null : (keyPadding.to(ScalarType.Int64).cumsum(1) - 1).clamp_min(0);

    /// <summary>Sets the logit of <paramref name="token"/> to −∞ (copy).</summary>
    public static Tensor SuppressToken(Tensor logits, long token)
    {
        if (token < 0 || token >= logits.shape[^1]) return logits;
        var copy = logits.clone();
        copy.select(-1, token).fill_(double.NegativeInfinity);
        return copy;
    }
}
