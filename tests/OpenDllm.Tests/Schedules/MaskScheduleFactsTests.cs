using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Schedules;

/// <summary>Boundary and known values of the absorbing-state schedules (SPEC §1.1–1.2).</summary>
public class MaskScheduleFactsTests
{
    public static TheoryData<string> NamesEndingAtZero => ["linear", "cosine", "square", "square_root", "log"];

    [Theory, MemberData(nameof(NamesEndingAtZero))]
    public void AlphaIsOneAtZeroAndZeroAtOne(string name)
    {
        var schedule = MaskSchedules.Create(name);
        Assert.Equal(1.0, schedule.Alpha(0.0));
        Assert.Equal(0.0, schedule.Alpha(1.0), 15);
    }

    [Fact]
    public void LogLinearEndsAtEpsilon()
    {
        var schedule = new LogLinearSchedule();
        Assert.Equal(1.0, schedule.Alpha(0.0));
        Assert.Equal(1e-3, schedule.Alpha(1.0), 15);
        Assert.Equal(0.05, new LogLinearSchedule(0.05).Alpha(1.0), 15);
    }

    /// <summary>Linear: P(unmask) = 1 − s/t = 2/3 and P(stay masked) = s/t = 1/3 for (s, t) = (0.25, 0.75).</summary>
    [Fact]
    public void LinearReverseStepKnownValues()
    {
        var linear = MaskSchedules.Create("linear");
        Assert.Equal(2.0 / 3.0, linear.ReverseUnmaskProbability(0.25, 0.75), 15);
        Assert.Equal(1.0 / 3.0, linear.ReverseStayMaskedProbability(0.25, 0.75), 15);
        Assert.Equal(1.0, linear.ReverseUnmaskProbability(0.0, 0.5));
        Assert.Equal(0.0, linear.ReverseUnmaskProbability(0.5, 0.5));
    }

    [Theory]
    [InlineData(1e-3)] [InlineData(0.1)] [InlineData(0.37)] [InlineData(0.5)] [InlineData(1.0)]
    public void LinearAndLogLinearWeightIsExactlyOneOverT(double t)
    {
        Assert.Equal(1.0 / t, MaskSchedules.Create("linear").LossWeight(t));
        Assert.Equal(1.0 / t, MaskSchedules.Create("loglinear").LossWeight(t));
        using var tt = tensor(new[] { t }, dtype: ScalarType.Float64);
        using var w = MaskSchedules.Create("loglinear").LossWeight(tt);
        Assert.Equal(1.0 / t, w.item<double>());
    }

    /// <summary>mdlm computes w = dσ/expm1(σ) with σ = −log(1 − (1 − ε)t); that equals 1/t (SPEC §1.2).</summary>
    [Theory]
    [InlineData(1e-3)] [InlineData(0.2)] [InlineData(0.9)] [InlineData(1.0)]
    public void LogLinearWeightEqualsMdlmForm(double t)
    {
        var schedule = new LogLinearSchedule();
        double sigma = schedule.Sigma(t);
        double dsigma = (1 - schedule.Epsilon) / (1 - (1 - schedule.Epsilon) * t);
        Assert.Equal(dsigma / double.ExpM1(sigma), schedule.LossWeight(t), 1e-9 / t);
    }

    [Fact]
    public void PolynomialWeightsArePOverT()
    {
        Assert.Equal(2.0 / 0.4, PolynomialSchedule.Square.LossWeight(0.4), 12);
        Assert.Equal(0.5 / 0.4, PolynomialSchedule.SquareRoot.LossWeight(0.4), 12);
        Assert.Equal(1 - 0.16, PolynomialSchedule.Square.Alpha(0.4), 15);
        Assert.Equal(1 - Math.Sqrt(0.4), PolynomialSchedule.SquareRoot.Alpha(0.4), 15);
    }

    [Fact]
    public void CosineKnownValuesAndDllmDenominator()
    {
        var exact = new CosineSchedule();
        var dllm = new CosineSchedule(1e-6);
        Assert.Equal(1 - Math.Cos(Math.PI / 4), exact.Alpha(0.5), 1e-15);
        Assert.Equal(Math.PI / 2, exact.LossWeight(0.5), 12);                     // (π/2)·tan(π/4)
        double s = Math.Sin(Math.PI / 4), c = Math.Cos(Math.PI / 4);
        Assert.Equal(Math.PI / 2 * s / (c + 1e-6), dllm.LossWeight(0.5), 12);
        Assert.Equal(exact.Alpha(0.3), dllm.Alpha(0.3));                           // δ only touches w
    }

    [Fact]
    public void LogScheduleKnownValues()
    {
        var log = LogSchedule.Instance;
        Assert.Equal(1 - Math.Log2(1.5), log.Alpha(0.5), 15);
        Assert.Equal(1.0 / (1.5 * Math.Log(1.5)), log.LossWeight(0.5), 12);
        Assert.Equal(1.0 / (1.0 + 1e-12), 1e-12 * log.LossWeight(1e-12), 6);      // w ≈ 1/t near 0 (log1p keeps precision)
    }

    /// <summary>The tensor overloads agree with the scalar ones on a grid (float64).</summary>
    [Theory, MemberData(nameof(AllNames))]
    public void TensorOverloadsMatchScalars(string name)
    {
        var schedule = MaskSchedules.Create(name);
        double[] grid = [.. Enumerable.Range(1, 100).Select(i => i / 100.0)];
        using var scope = NewDisposeScope();
        var t = tensor(grid, dtype: ScalarType.Float64);
        var alpha = schedule.Alpha(t).data<double>().ToArray();
        var w = schedule.LossWeight(t).data<double>().ToArray();
        for (int i = 0; i < grid.Length; i++)
        {
            Assert.Equal(schedule.Alpha(grid[i]), alpha[i], 1e-12);
            Assert.Equal(schedule.LossWeight(grid[i]), w[i], 1e-9 * Math.Max(1, w[i]));
        }
        Assert.Equal(ScalarType.Float32, schedule.Alpha(t.to(ScalarType.Float32)).dtype);
    }

    public static TheoryData<string> AllNames => [.. MaskSchedules.Names];

    [Fact]
    public void ReverseStepRejectsSAfterTAndTimesOutsideUnitInterval()
    {
        var linear = MaskSchedules.Create("linear");
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.ReverseUnmaskProbability(0.6, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.ReverseUnmaskProbability(0.0, 0.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.Alpha(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.Alpha(double.NaN));
    }
}
