using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// Polynomial schedule α(t) = 1 − t^p (SPEC §1.2, bd3lms "square" p = 2 and "square_root" p = ½; p = 1 is linear).
/// α′(t) = −p·t^{p−1}, w(t) = p/t, reverse step P(unmask) = 1 − (s/t)^p.
/// <para>
/// Unlike bd3lms (which floors the move chance at 1e-3: p = max(t², 1e-3)), no floor is applied, so α(0) = 1 holds;
/// time samplers keep t away from 0 (SPEC §1.4).
/// </para>
/// </summary>
public sealed class PolynomialSchedule : MaskSchedule
{
    /// <summary>"square": α = 1 − t².</summary>
    public static readonly PolynomialSchedule Square = new(2.0, "square");

    /// <summary>"square_root": α = 1 − √t.</summary>
    public static readonly PolynomialSchedule SquareRoot = new(0.5, "square_root");

    public PolynomialSchedule(double power, string? name = null)
    {
        if (!(power > 0.0 && double.IsFinite(power))) throw new ArgumentOutOfRangeException(nameof(power), power, "power must be finite and > 0.");
        Power = power;
        Name = name ?? $"polynomial({power})";
    }

    /// <summary>p in α = 1 − t^p.</summary>
    public double Power { get; }

    public override string Name { get; }

    /// <summary>m(t) = t^p.</summary>
    public override double MaskProbability(double t) => Math.Pow(t, Power);

    public override Tensor MaskProbability(Tensor t) => t.pow(Power);

    /// <summary>α′(t) = −p·t^{p−1} (−∞ at t = 0 when p &lt; 1).</summary>
    public override double AlphaDerivative(double t) => -Power * Math.Pow(t, Power - 1.0);

    public override Tensor AlphaDerivative(Tensor t) => t.pow(Power - 1.0).mul_(-Power);

    /// <summary>w(t) = p/t (SPEC §1.2; bd3lms square: 2t/t² = 2/t).</summary>
    public override double LossWeight(double t) => Power / Check(t);

    public override Tensor LossWeight(Tensor t) => t.reciprocal().mul_(Power);
}
