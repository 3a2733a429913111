using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Objectives;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

public class RepresentationAlignmentLossTests
{
    private sealed record AlignCase(int B, int L, int D, int Layers, int Seed, double MaskRate, bool Shift);

    private static Gen<AlignCase> Cases() =>
        from b in Gen.Choose(1, 3) from l in Gen.Choose(2, 7) from d in Gen.Choose(1, 6) from layers in Gen.Choose(1, 4)
        from seed in Gen.Choose(0, int.MaxValue) from rate in Gen.Elements(0.0, 0.3, 0.7, 1.0) from shift in Gen.Elements(true, false)
        select new AlignCase(b, l, d, layers, seed, rate, shift);

    private static (List<Tensor> S, List<Tensor> T, Tensor Masked) Build(AlignCase c)
    {
        var g = new Generator((ulong)c.Seed);
        var s = Enumerable.Range(0, c.Layers).Select(_ => randn(new long[] { c.B, c.L, c.D }, generator: g)).ToList();
        var t = Enumerable.Range(0, c.Layers).Select(_ => randn(new long[] { c.B, c.L, c.D }, generator: g)).ToList();
        return (s, t, rand(new long[] { c.B, c.L }, generator: g).lt(c.MaskRate));
    }

    /// <summary>L ∈ [0, 2] (float slack 1e-6), null iff no active position, 0 for identical states.</summary>
    [Property(MaxTest = 120)]
    public Property InUnitRangeZeroForIdenticalNullWhenNoPositions() => Prop.ForAll(Cases().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        var (s, t, masked) = Build(c);
        long active = LossTargets.Active(masked, c.Shift).sum().item<long>();
        var loss = RepresentationAlignmentLoss.Compute(s, t, masked, c.Shift);
        var self = RepresentationAlignmentLoss.Compute(s, s.Select(h => h.clone()).ToList(), masked, c.Shift);
        if (active == 0)
            return (loss is null && self is null).Label("null without positions").Classify(true, "no positions");
        double v = loss!.item<float>(), z = self!.item<float>();
        return (v >= -1e-6 && v <= 2 + 1e-6).Label($"in [0, 2]: {v}")
            .And((Math.Abs(z) <= 1e-6).Label($"identical → 0: {z}"))
            .Label($"{c}").Classify(c.Shift, "shifted").Classify(c.D == 1, "D = 1 (cos = ±1)");
    });

    [Fact]
    public void KnownValuesAndGradientOnlyIntoTheStudent()
    {
        using var scope = NewDisposeScope();
        var h = tensor(new float[] { 1, 0, 0, 1, 1, 1 }).reshape(1, 3, 2).requires_grad_(true);   // [B=1, L=3, D=2]
        var masked = tensor(new[] { false, true, true }).reshape(1, 3);
        var opposite = (-h).detach().requires_grad_(true);
        Assert.Equal(2f, RepresentationAlignmentLoss.Compute([h], [opposite], masked, shift: true)!.item<float>(), 5);
        var orthogonal = tensor(new float[] { 0, 1, 1, 0, 1, -1 }).reshape(1, 3, 2).requires_grad_(true);
        var loss = RepresentationAlignmentLoss.Compute([h], [orthogonal], masked, shift: false)!;
        Assert.Equal(1f, loss.item<float>(), 5);
        loss.backward();
        Assert.NotNull(h.grad);
        Assert.Null(orthogonal.grad);                                   // teacher is stop-gradient
        // shift: position 2 (the last) never predicts; masked = [F, F, T] ⇒ only position 1 is used
        var partly = RepresentationAlignmentLoss.Compute([h], [orthogonal], tensor(new[] { false, false, true }).reshape(1, 3), shift: true)!;
        Assert.Equal(1f, partly.item<float>(), 5);
        var end = tensor(new[] { false, true, false }).reshape(1, 3);     // position 1 ends a document ⇒ nothing left
        Assert.Null(RepresentationAlignmentLoss.Compute([h], [orthogonal], tensor(new[] { false, false, true }).reshape(1, 3), shift: true, documentEnd: end));
    }
}
