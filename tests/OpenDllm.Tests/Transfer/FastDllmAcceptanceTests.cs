using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling.Transfer;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Transfer;

public class FastDllmAcceptanceTests
{
    /// <summary>Confidence vectors of length 0–12: probabilities, exact ties, and −∞ for non-candidates.</summary>
    private static Gen<double[]> Confidences() =>
        from n in Gen.Choose(0, 12)
        from conf in Gen.ArrayOf(Gen.OneOf(
            Gen.Choose(0, 1000).Select(i => i / 1000.0),
            Gen.Elements(0.5, 0.9, 0.75, 2.0 / 3.0, 1.0),
            Gen.Constant(double.NegativeInfinity)), n)
        select conf;

    private static Gen<(double[] Conf, bool Factor, double Knob)> Cases() =>
        from conf in Confidences()
        from factor in Gen.Elements(true, false)
        from knob in factor ? Gen.Choose(1, 300).Select(i => i / 100.0) : Gen.Choose(0, 100).Select(i => i / 100.0)
        select (conf, factor, knob);

    private static int[] Accept(double[] conf, bool factor, double knob) =>
        factor ? FastDllmAcceptance.Factor(conf, knob) : FastDllmAcceptance.Threshold(conf, knob);

    /// <summary>≥ 1 accepted iff any candidate; only candidates; never a lower confidence accepted while a higher is rejected.</summary>
    [Property(MaxTest = 400)]
    public Property AcceptsTopOneAndIsMonotoneInConfidence() => Prop.ForAll(Cases().ToArbitrary(), c =>
    {
        var accepted = Accept(c.Conf, c.Factor, c.Knob).ToHashSet();
        var candidates = Enumerable.Range(0, c.Conf.Length).Where(i => c.Conf[i] > double.NegativeInfinity).ToList();
        bool monotone = accepted.All(a => candidates.Where(r => !accepted.Contains(r)).All(r => c.Conf[r] <= c.Conf[a]));
        string rule = c.Factor ? $"factor f={c.Knob}" : $"threshold τ={c.Knob}";
        return (candidates.Count == 0 ? accepted.Count == 0 : accepted.Count >= 1).Label("≥ 1 accepted iff any candidate")
            .And(accepted.All(candidates.Contains).Label("only candidates"))
            .And(monotone.Label("monotone in confidence"))
            .Label($"{rule} [{string.Join(", ", c.Conf)}] → [{string.Join(", ", accepted)}]")
            .Classify(candidates.Count == 0, "no candidates").Classify(accepted.Count > 1, "parallel (> 1)")
            .Classify(c.Factor, "factor rule");
    });

    /// <summary>The batched tensor form accepts exactly what the vector form accepts, row by row.</summary>
    [Property(MaxTest = 150)]
    public Property TensorMaskAgreesWithVectorForm() => Prop.ForAll(Cases().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        var conf = tensor(c.Conf, ScalarType.Float64).reshape(1, c.Conf.Length);
        var mask = c.Factor ? FastDllmAcceptance.FactorMask(conf, c.Knob) : FastDllmAcceptance.ThresholdMask(conf, c.Knob);
        var fromMask = Enumerable.Range(0, c.Conf.Length).Where(i => mask[0, i].item<bool>()).ToHashSet();
        return fromMask.SetEquals(Accept(c.Conf, c.Factor, c.Knob)).Label($"[{string.Join(", ", c.Conf)}]")
            .Classify(c.Conf.Length == 0, "empty");
    });

    [Fact]
    public void FactorThresholdsForFactorOne()
    {
        Assert.Equal(double.NegativeInfinity, FastDllmAcceptance.FactorThreshold(1, 1.0));
        Assert.Equal(0.667, FastDllmAcceptance.FactorThreshold(2, 1.0), 3);
        Assert.Equal(0.75, FastDllmAcceptance.FactorThreshold(3, 1.0), 12);
        Assert.Equal(0.8, FastDllmAcceptance.FactorThreshold(4, 1.0), 12);
    }

    [Fact]
    public void FactorRuleAcceptsTheLongestPassingPrefix()
    {
        // sorted: 0.99 (rank 1, forced), 0.74 (rank 2 ≥ 0.667), 0.70 (rank 3 < 0.75: stop)
        Assert.Equal(new[] { 0, 2 }, FastDllmAcceptance.Factor([0.99, 0.70, 0.74, 0.50], 1.0));
        Assert.Equal(new[] { 3, 0, 2 }, FastDllmAcceptance.Factor([0.90, 0.10, 0.80, 0.97], 1.0));
    }

    [Fact]
    public void FactorRuleDoesNotReplicateTheUpstreamLastIndexQuirk()
    {
        // Upstream: the last candidate is the first to fail (0.5 < 0.667) ⇒ top_i == len − 1 ⇒ both accepted. Here: only rank 1.
        Assert.Equal(new[] { 0 }, FastDllmAcceptance.Factor([0.9, 0.5], 1.0));
    }

    [Fact]
    public void ThresholdRuleAlwaysAcceptsTopOne()
    {
        Assert.Equal(new[] { 1, 2 }, FastDllmAcceptance.Threshold([0.3, 0.95, 0.92, 0.1], 0.9));
        Assert.Equal(new[] { 0 }, FastDllmAcceptance.Threshold([0.3, 0.2, double.NegativeInfinity], 0.9));
        Assert.Empty(FastDllmAcceptance.Threshold([double.NegativeInfinity], 0.9));
        using var scope = NewDisposeScope();
        var mask = FastDllmAcceptance.ThresholdMask(tensor(new float[,] { { 0.3f, 0.95f, 0.92f, 0.1f }, { 0.2f, float.NegativeInfinity, 0.1f, 0.05f } }), 0.9);
        Assert.Equal(new[] { false, true, true, false, true, false, false, false }, mask.data<bool>().ToArray());
        var nan = FastDllmAcceptance.FactorMask(tensor(new[,] { { double.NaN, 0.4 } }), 1.0);               // NaN is never a candidate
        Assert.Equal(new[] { false, true }, nan.data<bool>().ToArray());
    }
}
