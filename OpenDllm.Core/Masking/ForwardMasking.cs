using OpenDllm.Runtime;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Masking;

/// <summary>
/// The forward absorbing process q(x_t | x_0) (SPEC §1.1) and its exact posterior q(x_s | x_t, x_0).
/// Uniforms are drawn on the CPU from the seeded generator and then moved to the tokens' device, so a seed gives the
/// same masks on every device (<see cref="SeededDraws"/>).
/// </summary>
public static class ForwardMasking
{
    /// <summary>
    /// x_t: each maskable token independently becomes <paramref name="maskId"/> with probability 1 − α(t_i) (SPEC §1.1).
    /// Positions where <paramref name="maskable"/> is false (prompt, padding, fixed context) are never masked.
    /// </summary>
    /// <param name="x0">clean tokens [B, L] (int64).</param>
    /// <param name="tPerToken">times broadcastable to [B, L] (e.g. [B, L] or [B, 1]), in [0, 1].</param>
    /// <param name="schedule">α(t).</param>
    /// <param name="maskId">the [MASK] id m.</param>
    /// <param name="maskable">[B, L] bool, or null when every position may be masked.</param>
    /// <param name="generator">seeded CPU generator.</param>
    public static MaskedBatch Apply(Tensor x0, Tensor tPerToken, IMaskSchedule schedule, long maskId, Tensor? maskable, Generator generator)
    {
        if (x0.dim() != 2) throw new ArgumentException($"expected x0 [B, L], got [{string.Join(", ", x0.shape)}].", nameof(x0));
        using var scope = NewDisposeScope();
        // 1. t per token  [B, L]
        var t = tPerToken.to(x0.device).expand(x0.shape).contiguous();
        // 2. masking probability 1 − α(t), in float64  [B, L]
        var p = schedule.Alpha(t.to(ScalarType.Float64)).RSubScalar(1.0);        // ScalarOps: kept Scalars (per training step)
        // 3. u ~ U[0, 1) from the generator  [B, L]
        var u = SeededDraws.Uniform(x0.shape, generator, x0.device);
        // 4. masked where u < 1 − α(t) and maskable  [B, L]
        var masked = u.lt(p);
        if (maskable is not null) masked = masked.logical_and(maskable.to(x0.device).to(ScalarType.Bool));
        // 5. x_t = m where masked, else x0  [B, L]
        var xt = x0.MaskedFillScalar(masked, maskId);
        return Moved(xt, masked, t);
    }

    /// <summary>
    /// The exact reverse step s ≤ t given x0 (an oracle denoiser): each token masked at t is restored to x0 with
    /// probability (α(s) − α(t)) / (1 − α(t)) and stays masked otherwise; unmasked tokens stay as they are (SPEC §1.1).
    /// Composing <see cref="Apply"/> to t with this step gives x_s with the law of <see cref="Apply"/> to s.
    /// </summary>
    /// <param name="atT">the batch at time t (its TPerToken are the t's).</param>
    /// <param name="x0">clean tokens [B, L].</param>
    /// <param name="sPerToken">target times broadcastable to [B, L], each ≤ its t.</param>
    public static MaskedBatch ReverseStep(MaskedBatch atT, Tensor x0, Tensor sPerToken, IMaskSchedule schedule, Generator generator)
    {
        using var scope = NewDisposeScope();
        var device = atT.Tokens.device;
        var t = atT.TPerToken.to(ScalarType.Float64);                                              // [B, L]
        var s = sPerToken.to(device).to(ScalarType.Float64).expand(t.shape).contiguous();          // [B, L]
        if (s.gt(t).any().item<bool>()) throw new ArgumentException("every s must be ≤ its t.", nameof(sPerToken));
        // 1. P(unmask) = (α(s) − α(t)) / (1 − α(t)); 0/0 at t = 0 (nothing masked) → 0  [B, L]
        var alphaT = schedule.Alpha(t);
        var pUnmask = ((schedule.Alpha(s) - alphaT) / (1.0 - alphaT)).nan_to_num(0.0).clamp(0.0, 1.0);
        // 2. u ~ U[0, 1); unmask masked tokens with u < P(unmask)  [B, L]
        var u = SeededDraws.Uniform(t.shape, generator, device);
        var unmask = atT.Masked.logical_and(u.lt(pUnmask));
        var masked = atT.Masked.logical_and(unmask.logical_not());
        var xs = where(unmask, x0.to(device), atT.Tokens);
        return Moved(xs, masked, s.to(atT.TPerToken.dtype));
    }

    private static MaskedBatch Moved(Tensor tokens, Tensor masked, Tensor t) =>
        new(tokens.MoveToOuterDisposeScope(), masked.MoveToOuterDisposeScope(), t.MoveToOuterDisposeScope());
}
