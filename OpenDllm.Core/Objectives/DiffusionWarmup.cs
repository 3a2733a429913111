using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// LDLM's diffusion-to-encoder warmup (SPEC §6.3 [seed]; k, c unverified in public code): the diffusion loss reaches the
/// latent encoder gradually. Recommended use: the denoiser sees full-strength L_diff, the encoder's gradient from it is
/// scaled by γ(s) through <see cref="ScaleGradient"/>.
/// </summary>
public static class DiffusionWarmup
{
    public const double DefaultSteepness = 10.0;
    public const double DefaultCenter = 0.8;

    /// <summary>γ(s) = sigmoid(k·(s/S − c)), s = step, S = total steps (k = 10, c = 0.8: γ(0) = 3.35e-4, γ(0.5S) = 0.0474,
    /// γ(0.8S) = 0.5, γ(S) = 0.8808).</summary>
    public static double Gamma(long step, long totalSteps, double k = DefaultSteepness, double c = DefaultCenter)
    {
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "must be positive");
        return Gamma((double)step / totalSteps, k, c);
    }

    /// <summary>γ = sigmoid(k·(progress − c)), progress = s/S.</summary>
    public static double Gamma(double progress, double k = DefaultSteepness, double c = DefaultCenter) =>
        1.0 / (1.0 + Math.Exp(-k * (progress - c)));

    /// <summary>z_in = γ·z + (1 − γ)·sg(z): forward value z, backward gradient scaled by γ.</summary>
    public static Tensor ScaleGradient(Tensor z, double gamma)
    {
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "γ must lie in [0, 1]");
        using var scope = NewDisposeScope();
        return (gamma * z + (1 - gamma) * z.detach()).MoveToOuterDisposeScope();
    }
}
