using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Schedules;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;

namespace OpenDllm.Tests.Schedules;

/// <summary>Properties every absorbing-state schedule must have (SPEC §1.1–1.2), over all registered schedules.</summary>
public class MaskSchedulePropertyTests
{
    [Property(MaxTest = 500)]
    public Property AlphaIsNonIncreasingAndInUnitInterval() =>
        Prop.ForAll(Gen.Zip(Schedule, OrderedPair).ToArbitrary(), x =>
        {
            var (schedule, (s, t)) = x;
            double a = schedule.Alpha(s), b = schedule.Alpha(t);
            return (a >= b).Label($"α({s}) = {a} < α({t}) = {b}")
                .And((a is >= 0 and <= 1 && b is >= 0 and <= 1).Label("α ∈ [0, 1]"))
                .Classify(s == 0, "s = 0").Classify(t == 1, "t = 1")
                .Collect(schedule.Name);
        });

    [Property(MaxTest = 500)]
    public Property LossWeightIsNonNegativeAndFinite() =>
        Prop.ForAll(Gen.Zip(Schedule, PositiveTime).ToArbitrary(), x =>
        {
            var (schedule, t) = x;
            double w = schedule.LossWeight(t);
            return (w >= 0).Label($"w({t}) = {w} < 0")
                .And(double.IsFinite(w).Label($"w({t}) = {w} not finite"))
                .Classify(t < 0.01, "t < 0.01").Classify(t == 1, "t = 1")
                .Collect(schedule.Name);
        });

    /// <summary>w(t) = −α′(t)/(1 − α(t)) (SPEC §1.2); dllm's cosine δ is the one documented exception.</summary>
    [Property(MaxTest = 300)]
    public Property LossWeightIsMinusAlphaDerivativeOverMaskProbability() =>
        Prop.ForAll(Gen.Zip(Schedule, Gen.Choose(10, 1000).Select(i => i / 1000.0)).ToArbitrary(), x =>
        {
            var (schedule, t) = x;
            double expected = -schedule.AlphaDerivative(t) / (1 - schedule.Alpha(t));
            double w = schedule.LossWeight(t);
            bool dllmCosine = schedule is CosineSchedule { DenominatorEpsilon: > 0 };
            double tol = (dllmCosine ? 1e-4 : 1e-9) * Math.Max(1, Math.Abs(expected));
            return (Math.Abs(w - expected) <= tol).Label($"w({t}) = {w}, −α′/(1−α) = {expected}")
                .Classify(dllmCosine, "dllm cosine δ").Collect(schedule.Name);
        });

    /// <summary>α′ is the derivative of α: central difference with h = 1e-6 on t ∈ [0.01, 0.99].</summary>
    [Property(MaxTest = 300)]
    public Property AlphaDerivativeMatchesFiniteDifference() =>
        Prop.ForAll(Gen.Zip(Schedule, Gen.Choose(10, 990).Select(i => i / 1000.0)).ToArbitrary(), x =>
        {
            var (schedule, t) = x;
            const double h = 1e-6;
            double numeric = (schedule.Alpha(t + h) - schedule.Alpha(t - h)) / (2 * h);
            double analytic = schedule.AlphaDerivative(t);
            return (Math.Abs(numeric - analytic) <= 1e-6 * Math.Max(1, Math.Abs(analytic)))
                .Label($"α′({t}) = {analytic}, finite difference {numeric}").Collect(schedule.Name);
        });

    [Property(MaxTest = 500)]
    public Property ReverseProbabilitiesAreProbabilities() =>
        Prop.ForAll(Gen.Zip(Schedule, OrderedPair).ToArbitrary(), x =>
        {
            var (schedule, (s, t)) = x;
            double unmask = schedule.ReverseUnmaskProbability(s, t);
            double stay = schedule.ReverseStayMaskedProbability(s, t);
            double formula = (schedule.Alpha(s) - schedule.Alpha(t)) / (1 - schedule.Alpha(t));
            return (unmask is >= 0 and <= 1).Label($"P(unmask) = {unmask}")
                .And((stay is >= 0 and <= 1).Label($"P(stay) = {stay}"))
                .And((Math.Abs(unmask - formula) <= 1e-12 + 1e-15 / (1 - schedule.Alpha(t)))                 // the α form cancels when α(t) ≈ 1
                    .Label($"P(unmask) = {unmask} ≠ (α(s)−α(t))/(1−α(t)) = {formula} (t = {t}, s = {s})"))
                .Classify(s == 0, "s = 0 (everything unmasks)").Collect(schedule.Name);
        });

    /// <summary>Stay-masked probabilities multiply along a path: t → u → s equals t → s (Markov composition, SPEC §1.1).</summary>
    [Property(MaxTest = 500)]
    public Property ReverseStayProbabilitiesCompose() =>
        Prop.ForAll(Gen.Zip(Schedule, OrderedTriple).ToArbitrary(), x =>
        {
            var (schedule, (s, u, t)) = x;
            double direct = schedule.ReverseStayMaskedProbability(s, t);
            double viaU = schedule.ReverseStayMaskedProbability(u, t) * schedule.ReverseStayMaskedProbability(s, u);
            return (Math.Abs(direct - viaU) <= 1e-12).Label($"P(stay t→s) = {direct}, via u: {viaU}").Collect(schedule.Name);
        });
}
