using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// bd3lms "log" schedule (SPEC §1.2, kuleshov-group/bd3lms noise_schedule.py): move chance m(t) = log(1 + t)/log 2,
/// α(t) = 1 − log₂(1 + t). α′(t) = −1/((1 + t)·ln 2), w(t) = 1/((1 + t)·ln(1 + t)), computed with log1p.
/// </summary>
public sealed class LogSchedule : MaskSchedule
{
    public static readonly LogSchedule Instance = new();

    public override string Name => "log";

    /// <summary>m(t) = ln(1 + t)/ln 2.</summary>
    public override double MaskProbability(double t) => Log1P(t) / Math.Log(2.0);

    public override Tensor MaskProbability(Tensor t) => t.log1p().div_(Math.Log(2.0));

    /// <summary>α′(t) = −1/((1 + t)·ln 2).</summary>
    public override double AlphaDerivative(double t) => -1.0 / ((1.0 + t) * Math.Log(2.0));

    public override Tensor AlphaDerivative(Tensor t) => (t + 1.0).mul_(-Math.Log(2.0)).reciprocal_();

    /// <summary>w(t) = 1/((1 + t)·ln(1 + t)).</summary>
    public override double LossWeight(double t) => 1.0 / ((1.0 + Check(t)) * Log1P(t));

    public override Tensor LossWeight(Tensor t)
    {
        using var scope = NewDisposeScope();
        return (t + 1.0).mul_(t.log1p()).reciprocal_().MoveToOuterDisposeScope();
    }

    /// <summary>ln(1 + x), accurate for small x (Goldberg's trick: the rounding of 1 + x cancels).</summary>
    private static double Log1P(double x)
    {
        double u = 1.0 + x;
        return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
    }
}
