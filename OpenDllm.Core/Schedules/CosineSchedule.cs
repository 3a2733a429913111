using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// dllm cosine schedule (SPEC §1.2; ZHZisZZ/dllm schedulers/alpha.py): α(t) = 1 − cos(π/2 · (1 − t)),
/// α′(t) = −(π/2)·sin(π/2 · (1 − t)), so w(t) = (π/2)·sin(π/2 · (1 − t)) / (cos(π/2 · (1 − t)) + δ).
/// <para>
/// Choice: δ = 0 by default, i.e. w = −α′/(1 − α) exactly (= (π/2)·tan(π/2 · (1 − t))). dllm adds δ = 1e-6 to the
/// denominator as a guard at t → 0; pass <c>denominatorEpsilon: 1e-6</c> for bit-level parity with it (the relative
/// difference is ≈ δ/((π/2)t), e.g. 6e-4 at t = 1e-3). Note bd3lms' "cosine" is a different curve
/// (m = 1 − (1 − ε)cos(πt/2)) and is not this class.
/// </para>
/// </summary>
public sealed class CosineSchedule : MaskSchedule
{
    private const double HalfPi = Math.PI / 2;

    public CosineSchedule(double denominatorEpsilon = 0.0)
    {
        if (!(denominatorEpsilon >= 0.0)) throw new ArgumentOutOfRangeException(nameof(denominatorEpsilon), denominatorEpsilon, "must be ≥ 0.");
        DenominatorEpsilon = denominatorEpsilon;
    }

    /// <summary>δ added to 1 − α(t) in w(t) only (dllm uses 1e-6); 0 means the exact ELBO weight.</summary>
    public double DenominatorEpsilon { get; }

    public override string Name => "cosine";

    /// <summary>m(t) = cos(π/2 · (1 − t)) = sin(πt/2), computed as the sine so that m(0) = 0 and m(1) = 1 exactly.</summary>
    public override double MaskProbability(double t) => Math.Sin(HalfPi * t);

    public override Tensor MaskProbability(Tensor t) => (t * HalfPi).sin_();

    /// <summary>α′(t) = −(π/2)·sin(π/2 · (1 − t)) = −(π/2)·cos(πt/2).</summary>
    public override double AlphaDerivative(double t) => -HalfPi * Math.Cos(HalfPi * t);

    public override Tensor AlphaDerivative(Tensor t) => (t * HalfPi).cos_().mul_(-HalfPi);

    /// <summary>w(t) = (π/2)·sin(π/2 · (1 − t)) / (cos(π/2 · (1 − t)) + δ) = (π/2)·cos(πt/2) / (sin(πt/2) + δ).</summary>
    public override double LossWeight(double t) => -AlphaDerivative(Check(t)) / (MaskProbability(t) + DenominatorEpsilon);

    public override Tensor LossWeight(Tensor t)
    {
        using var scope = NewDisposeScope();
        return (-AlphaDerivative(t) / (MaskProbability(t) + DenominatorEpsilon)).MoveToOuterDisposeScope();
    }
}
