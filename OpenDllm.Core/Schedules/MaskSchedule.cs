using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// Shared algebra of the absorbing-state schedules (SPEC §1.1–1.2). A subclass gives the masking probability
/// m(t) = 1 − α(t) and α′(t) (both as doubles and elementwise on tensors); everything else follows from them.
/// m(t) is the primitive rather than α(t) so that 1 − α(t) is exact near t = 0 (e.g. m = t for the linear schedule),
/// where w(t) and the reverse-step probabilities divide by it.
/// </summary>
public abstract class MaskSchedule : IMaskSchedule
{
    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <summary>m(t) = 1 − α(t): probability that a token is masked at time t (SPEC §1.1).</summary>
    public abstract double MaskProbability(double t);

    /// <summary>m(t) = 1 − α(t) elementwise on a float tensor of times (dtype and shape kept).</summary>
    public abstract Tensor MaskProbability(Tensor t);

    /// <inheritdoc/>
    public abstract double AlphaDerivative(double t);

    /// <summary>α′(t) elementwise on a float tensor of times (dtype and shape kept).</summary>
    public abstract Tensor AlphaDerivative(Tensor t);

    /// <summary>α(t) = 1 − m(t) (SPEC §1.1).</summary>
    public double Alpha(double t) => 1.0 - MaskProbability(Check(t));

    /// <summary>
    /// P(unmask) for a token still masked at t when stepping back to s ≤ t (SPEC §1.1):
    /// (α(s) − α(t)) / (1 − α(t)) = 1 − m(s)/m(t). Requires 0 ≤ s ≤ t ≤ 1 and t &gt; 0; clamped to [0, 1] against rounding.
    /// </summary>
    public double ReverseUnmaskProbability(double s, double t)
    {
        Check(s); Check(t);
        if (!(s <= t)) throw new ArgumentOutOfRangeException(nameof(s), s, $"reverse step needs s ≤ t (t = {t}).");
        if (t <= 0) throw new ArgumentOutOfRangeException(nameof(t), t, "reverse step from t = 0 is undefined (nothing is masked).");
        return Math.Clamp(1.0 - MaskProbability(s) / MaskProbability(t), 0.0, 1.0);
    }

    /// <summary>
    /// w(t) = −α′(t) / (1 − α(t)) = −α′(t) / m(t), the ELBO weight of the masked-token CE (SPEC §1.2).
    /// +∞ at t = 0 for every schedule here (SPEC §1.4: samplers keep t away from 0).
    /// </summary>
    public virtual double LossWeight(double t) => -AlphaDerivative(Check(t)) / MaskProbability(t);

    /// <summary>α(t) = 1 − m(t) elementwise.</summary>
    public Tensor Alpha(Tensor t)
    {
        using var scope = NewDisposeScope();
        return (1.0 - MaskProbability(t)).MoveToOuterDisposeScope();
    }

    /// <summary>w(t) = −α′(t) / m(t) elementwise (SPEC §1.2).</summary>
    public virtual Tensor LossWeight(Tensor t)
    {
        using var scope = NewDisposeScope();
        return (-AlphaDerivative(t) / MaskProbability(t)).MoveToOuterDisposeScope();
    }

    public override string ToString() => Name;

    /// <summary>Throws unless t ∈ [0, 1]; returns t.</summary>
    protected static double Check(double t) =>
        t is >= 0.0 and <= 1.0 ? t : throw new ArgumentOutOfRangeException(nameof(t), t, "diffusion time must lie in [0, 1].");
}
