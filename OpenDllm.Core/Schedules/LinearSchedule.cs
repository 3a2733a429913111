using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// Linear schedule α(t) = 1 − t (SPEC §1.1–1.2; LLaDA, dllm "linear"). α′(t) = −1, w(t) = 1/t,
/// reverse step P(unmask) = 1 − s/t.
/// <see href="https://arxiv.org/abs/2406.07524"/>
/// </summary>
public sealed class LinearSchedule : MaskSchedule
{
    public static readonly LinearSchedule Instance = new();

    public override string Name => "linear";

    /// <summary>m(t) = t.</summary>
    public override double MaskProbability(double t) => t;

    public override Tensor MaskProbability(Tensor t) => t.clone();

    /// <summary>α′(t) = −1.</summary>
    public override double AlphaDerivative(double t) => -1.0;

    public override Tensor AlphaDerivative(Tensor t) => full_like(t, -1.0);

    /// <summary>w(t) = 1/t (SPEC §1.2).</summary>
    public override double LossWeight(double t) => 1.0 / Check(t);

    public override Tensor LossWeight(Tensor t) => t.reciprocal();
}
