using OpenDllm.Models;
using OpenDllm.Runtime;
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

    /// <summary>Sets the logit of <paramref name="token"/> to −∞ (a copy, <see cref="LogitMasks.SuppressToken"/>);
    /// an id outside the vocabulary leaves the logits as they are.</summary>
    public static Tensor SuppressToken(Tensor logits, long token) =>
        InVocabulary(logits, token) ? LogitMasks.SuppressToken(logits, token) : logits;

    /// <summary>As <see cref="SuppressToken"/>, but writes into <paramref name="logits"/> (fresh model output a sampler owns).</summary>
    public static Tensor SuppressTokenInPlace(Tensor logits, long token) =>
        InVocabulary(logits, token) ? LogitMasks.SuppressTokenInPlace(logits, token) : logits;

    static bool InVocabulary(Tensor logits, long token) => token >= 0 && token < logits.shape[^1];

    /// <summary>
    /// Per row, the k_b highest scores (or k_b sampled without replacement by Gumbel-top-k on score / temp, the uniforms
    /// drawn on the CPU, <see cref="SeededDraws"/>) as a bool mask [B, T]; −∞ is never chosen. The quotas are host values,
    /// so no device sync is needed here.
    /// </summary>
    public static Tensor SelectPerRow(Tensor score, long[] k, double temperature, Generator generator)
    {
        long kmax = k.Length == 0 ? 0 : k.Max();
        if (kmax == 0) return zeros_like(score, dtype: ScalarType.Bool);
        var ranked = score.to(ScalarType.Float64);
        if (temperature > 0)
        {
            var u = SeededDraws.Uniform(score.shape, generator, score.device).clamp(1e-20, 1 - 1e-16);
            ranked = ranked.DivScalar(temperature) - (-u.log()).log();            // ScalarOps: a kept Scalar per step
        }
        var index = ranked.topk((int)Math.Min(kmax, score.shape[1]), 1).indexes;   // [B, kmax]
        var keep = arange(index.shape[1], device: score.device).unsqueeze(0) < tensor(k, device: score.device).unsqueeze(1);
        keep &= score.gather(1, index).isfinite() | score.gather(1, index).gt(0);  // never pick −∞
        return zeros_like(score, dtype: ScalarType.Bool).scatter(1, index, keep);
    }

    /// <summary>
    /// Per row, the n_b lowest scores as a bool mask [B, T] (p2's re-mask set, SPEC §5.2). Ascending stable sort, so equal
    /// scores are taken lowest position first on every device (upstream's argsort leaves that order unspecified).
    /// </summary>
    public static Tensor SelectLowest(Tensor score, long[] n)
    {
        long nmax = n.Length == 0 ? 0 : Math.Min(n.Max(), score.shape[1]);
        if (nmax <= 0) return zeros_like(score, dtype: ScalarType.Bool);
        var order = score.sort(1, descending: false, stable: true).Indices.narrow(1, 0, nmax);          // [B, nmax]
        var keep = arange(nmax, device: score.device).unsqueeze(0) < tensor(n, device: score.device).unsqueeze(1);
        return zeros_like(score, dtype: ScalarType.Bool).scatter(1, order, keep);
    }

    /// <summary>The values of a small int64-convertible tensor on the host: one device-to-host copy (the only kind of host
    /// read samplers do, once per step).</summary>
    public static long[] HostLongs(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.to(ScalarType.Int64).cpu().contiguous().flatten().data<long>().ToArray();
    }
}
