using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Objectives;

namespace OpenDllm.Tests.Objectives;

/// <summary>γ(s) = sigmoid(k·(s/S − c)) of LDLM's warmup (SPEC §6.3) as properties over k, c and progress; the §6.3 test
/// vectors are in <see cref="AuxiliaryLossTests.WarmupGammaTestVectors"/>.</summary>
public class DiffusionWarmupPropertyTests
{
    /// <summary>k ∈ [0.5, 20], c ∈ [0, 1], 0 ≤ p₁ &lt; p₂ ≤ 1 on a 1/1000 grid, x ∈ [0, 1].</summary>
    static Gen<(double K, double C, double P1, double P2, double X)> Cases =>
        from k in Gen.Choose(5, 200)
        from c in Gen.Choose(0, 100)
        from p2 in Gen.Choose(1, 1000)
        from p1 in Gen.Choose(0, p2 - 1)
        from x in Gen.Choose(0, 1000)
        select (k / 10.0, c / 100.0, p1 / 1000.0, p2 / 1000.0, x / 1000.0);

    [Property(MaxTest = 500)]
    public Property GammaIsAnIncreasingSigmoidCentredAtC() =>
        Prop.ForAll(Cases.ToArbitrary(), x =>
        {
            var (k, c, p1, p2, d) = x;
            double g1 = DiffusionWarmup.Gamma(p1, k, c), g2 = DiffusionWarmup.Gamma(p2, k, c);
            double up = DiffusionWarmup.Gamma(c + d, k, c), down = DiffusionWarmup.Gamma(c - d, k, c);
            return (g1 < g2).Label($"not increasing: γ({p1}) = {g1} ≥ γ({p2}) = {g2}")
                .And((g1 > 0 && g1 < 1 && g2 > 0 && g2 < 1).Label($"outside (0, 1): {g1}, {g2}"))
                .And((DiffusionWarmup.Gamma(c, k, c) == 0.5).Label("γ(c) ≠ 0.5"))
                .And((Math.Abs(up + down - 1) <= 1e-12).Label($"γ(c + x) + γ(c − x) = {up + down}"))
                .And((Math.Abs(g1 - 1 / (1 + Math.Exp(-k * (p1 - c)))) <= 1e-15).Label("not sigmoid(k·(p − c))"));
        });

    /// <summary>The step form is the progress form at s/S, and S ≤ 0 is refused.</summary>
    [Property(MaxTest = 200)]
    public Property StepFormIsProgressForm() =>
        Prop.ForAll(Gen.Choose(1, 100000).SelectMany(total => Gen.Choose(0, total).Select(step => (step, total))).ToArbitrary(), x =>
            (DiffusionWarmup.Gamma(x.step, x.total) == DiffusionWarmup.Gamma((double)x.step / x.total)).Label($"{x.step}/{x.total}"));

    [Fact]
    public void NonPositiveTotalStepsIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DiffusionWarmup.Gamma(1, 0));
}
