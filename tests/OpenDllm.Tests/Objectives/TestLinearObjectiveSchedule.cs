using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary>Test-local linear schedule α(t) = 1 − t, w(t) = 1/t (the real schedules are built elsewhere).</summary>
internal sealed class TestLinearObjectiveSchedule : IMaskSchedule
{
    public static readonly TestLinearObjectiveSchedule Instance = new();
    public string Name => "test-linear";
    public double Alpha(double t) => 1 - t;
    public double AlphaDerivative(double t) => -1;
    public double ReverseUnmaskProbability(double s, double t) => (Alpha(s) - Alpha(t)) / (1 - Alpha(t));
    public double LossWeight(double t) => 1 / t;
    public Tensor Alpha(Tensor t) => 1 - t;
    public Tensor LossWeight(Tensor t) => t.reciprocal();
}
