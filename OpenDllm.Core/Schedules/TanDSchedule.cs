using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// The tan-d variance-preserving Gaussian schedule of LDLM (SPEC §6.4): z_t = α_t·z_0 + σ_t·ε with
/// α_t = 1/√(1 + d²·tan²(πt/2)), σ_t = √(1 − α_t²) = d·tan(πt/2)/√(1 + d²·tan²(πt/2)), SNR(t) = 1/(d²·tan²(πt/2)).
/// This is not a masking schedule (no <see cref="IMaskSchedule"/>): it scales continuous latents.
/// Times above <see cref="MaxTime"/> = 1 − 1e-5 are clipped to it (tan(πt/2) → ∞ at t = 1).
/// </summary>
public sealed class TanDSchedule
{
    /// <summary>Largest time used; larger t are clipped to it (SPEC §6.4).</summary>
    public const double MaxTime = 1.0 - 1e-5;

    public TanDSchedule(double d = 3.0)
    {
        if (!(d > 0.0 && double.IsFinite(d))) throw new ArgumentOutOfRangeException(nameof(d), d, "d must be finite and > 0.");
        D = d;
    }

    /// <summary>d, the SNR scale (d = 3 in LDLM).</summary>
    public double D { get; }

    /// <summary>t clipped to [0, <see cref="MaxTime"/>]; throws outside [0, 1].</summary>
    public static double Clip(double t) =>
        t is >= 0.0 and <= 1.0 ? Math.Min(t, MaxTime) : throw new ArgumentOutOfRangeException(nameof(t), t, "time must lie in [0, 1].");

    /// <summary>α_t = 1/√(1 + d²·tan²(πt/2)).</summary>
    public double Alpha(double t)
    {
        double dt = D * Math.Tan(Math.PI / 2 * Clip(t));
        return 1.0 / Math.Sqrt(1.0 + dt * dt);
    }

    /// <summary>σ_t = √(1 − α_t²) = d·tan(πt/2)/√(1 + d²·tan²(πt/2)) (computed without the 1 − α² cancellation).</summary>
    public double Sigma(double t)
    {
        double dt = D * Math.Tan(Math.PI / 2 * Clip(t));
        return dt / Math.Sqrt(1.0 + dt * dt);
    }

    /// <summary>SNR(t) = α_t²/σ_t² = 1/(d²·tan²(πt/2)) (+∞ at t = 0).</summary>
    public double Snr(double t)
    {
        double dt = D * Math.Tan(Math.PI / 2 * Clip(t));
        return 1.0 / (dt * dt);
    }

    /// <summary>
    /// VP-SDE drift coefficient β(t) = −d/dt log α_t² = π·d²·tan(πt/2)·(1 + tan²(πt/2)) / (1 + d²·tan²(πt/2)) (SPEC §6.4).
    /// </summary>
    public double Beta(double t)
    {
        double tan = Math.Tan(Math.PI / 2 * Clip(t));
        double d2 = D * D;
        return Math.PI * d2 * tan * (1.0 + tan * tan) / (1.0 + d2 * tan * tan);
    }

    /// <summary>α_t elementwise on a float tensor of times in [0, 1] (clipped to <see cref="MaxTime"/>).</summary>
    public Tensor Alpha(Tensor t)
    {
        using var scope = NewDisposeScope();
        var dt = ScaledTan(t);
        return (dt * dt + 1.0).rsqrt_().MoveToOuterDisposeScope();
    }

    /// <summary>σ_t elementwise on a float tensor of times in [0, 1] (clipped to <see cref="MaxTime"/>).</summary>
    public Tensor Sigma(Tensor t)
    {
        using var scope = NewDisposeScope();
        var dt = ScaledTan(t);
        return (dt / (dt * dt + 1.0).sqrt_()).MoveToOuterDisposeScope();
    }

    /// <summary>d·tan(π·min(t, MaxTime)/2).</summary>
    private Tensor ScaledTan(Tensor t) => t.clamp(0.0, MaxTime).mul(Math.PI / 2).tan_().mul_(D);
}
