using OpenDllm.Runtime;
using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's diffusion loss per sample (SPEC §6.3, §6.4, §6.6): z_t = α_t·z + σ_t·ε under the tan-d schedule,
/// ẑ₀ = f(z_t, t, sc) and L_diff,b = mean_{K,d} (ẑ₀ − z)². With self-conditioning, sc = sg(f(z_t, t, 0)) from a first pass
/// at the same (t, ε) under no grad, and only the second pass is scored; without it sc = 0.
/// </summary>
public static class SelfConditionedX0Loss
{
    /// <param name="denoiser">The x0-predicting denoiser.</param>
    /// <param name="schedule">α_t, σ_t.</param>
    /// <param name="z">Clean latents [B, K, d] (the target; the encoder learns through it and through z_t).</param>
    /// <param name="t">Times [B] in [0, 1] on z's device.</param>
    /// <param name="noise">ε [B, K, d].</param>
    /// <param name="selfCondition">Run the detached first pass and condition the scored pass on it.</param>
    /// <returns>[B] the per-sample MSE.</returns>
    public static Tensor PerSample(ILatentDenoiser denoiser, TanDSchedule schedule, Tensor z, Tensor t, Tensor noise, bool selfCondition)
    {
        var alpha = schedule.Alpha(t).view(-1, 1, 1).to(z.dtype);
        var sigma = schedule.Sigma(t).view(-1, 1, 1).to(z.dtype);
        var noisy = (alpha * z).AddScaled(sigma * noise);                                             // [B, K, d]
        var condition = zeros_like(z);
        if (selfCondition)
            using (no_grad()) condition = denoiser.PredictX0(noisy.detach(), t, condition).detach();
        var x0 = denoiser.PredictX0(noisy, t, condition);
        return (x0 - z).pow(2).mean([1, 2]);
    }
}
