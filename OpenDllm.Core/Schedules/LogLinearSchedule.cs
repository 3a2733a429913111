using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// MDLM log-linear schedule (SPEC §1.2): σ(t) = −log(1 − (1 − ε)t), α(t) = e^{−σ(t)} = 1 − (1 − ε)t, so α(1) = ε.
/// α′(t) = −(1 − ε) and w(t) = dσ/expm1(σ) = −α′/(1 − α) = 1/t exactly; w is computed as 1/t, as mdlm's value is
/// analytically (kuleshov-group/mdlm noise_schedule.py LogLinearNoise; default ε = 1e-3).
/// <see href="https://arxiv.org/abs/2406.07524"/>
/// </summary>
public sealed class LogLinearSchedule : MaskSchedule
{
    public const double DefaultEpsilon = 1e-3;

    public LogLinearSchedule(double epsilon = DefaultEpsilon)
    {
        if (!(epsilon is >= 0.0 and < 1.0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must lie in [0, 1).");
        Epsilon = epsilon;
    }

    /// <summary>ε: α(1) = ε, the clean probability left at t = 1.</summary>
    public double Epsilon { get; }

    public override string Name => "loglinear";

    /// <summary>m(t) = (1 − ε)t.</summary>
    public override double MaskProbability(double t) => (1.0 - Epsilon) * t;

    public override Tensor MaskProbability(Tensor t) => t * (1.0 - Epsilon);

    /// <summary>α′(t) = −(1 − ε).</summary>
    public override double AlphaDerivative(double t) => -(1.0 - Epsilon);

    public override Tensor AlphaDerivative(Tensor t) => full_like(t, -(1.0 - Epsilon));

    /// <summary>σ(t) = −log(1 − (1 − ε)t), the total noise (SPEC §1.2).</summary>
    public double Sigma(double t) => -Math.Log(1.0 - MaskProbability(Check(t)));

    /// <summary>w(t) = dσ/expm1(σ) = 1/t exactly (SPEC §1.2).</summary>
    public override double LossWeight(double t) => 1.0 / Check(t);

    public override Tensor LossWeight(Tensor t) => t.reciprocal();
}
