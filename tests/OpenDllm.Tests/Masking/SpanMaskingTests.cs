using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Masking;
using static OpenDllm.Tests.Masking.ForwardMaskingTests;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Masking;

/// <summary>Infilling: exactly one contiguous middle between prefix and suffix (SPEC §5.6).</summary>
public class SpanMaskingTests
{
    private const long MaskId = 100;

    private sealed record Case(int Batch, int Length, int[] Valid, int MinPrefix, int MinSuffix, int MinSpan, int Seed);

    /// <summary>Rows with n_b ≥ minPrefix + minSuffix + minSpan real tokens by construction.</summary>
    private static Gen<Case> Cases =>
        from minPrefix in Gen.Choose(0, 4)
        from minSuffix in Gen.Choose(0, 4)
        from minSpan in Gen.Choose(1, 3)
        from length in Gen.Choose(minPrefix + minSuffix + minSpan, 32)
        from batch in Gen.Choose(1, 4)
        from valid in Gen.ArrayOf(Gen.Choose(minPrefix + minSuffix + minSpan, length), batch)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(batch, length, valid, minPrefix, minSuffix, minSpan, seed);

    [Property(MaxTest = 200)]
    public Property SampledSpanIsExactlyOneContiguousMiddle() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            using var scope = NewDisposeScope();
            var x0 = Tokens(c.Batch, c.Length, c.Seed);
            var valid = tensor(c.Valid.Select(v => (long)v).ToArray());
            var batch = SpanMasking.Sample(x0, MaskId, new Generator((ulong)c.Seed), valid, c.MinPrefix, c.MinSuffix, c.MinSpan);
            var again = SpanMasking.Sample(x0, MaskId, new Generator((ulong)c.Seed), valid, c.MinPrefix, c.MinSuffix, c.MinSpan);
            var masked = batch.Masked.data<bool>().ToArray();
            var starts = batch.Start.data<long>().ToArray(); var lengths = batch.Length.data<long>().ToArray();
            bool exact = true, bounds = true;
            for (int b = 0; b < c.Batch; b++)
            {
                bounds &= starts[b] >= c.MinPrefix && lengths[b] >= c.MinSpan && starts[b] + lengths[b] <= c.Valid[b] - c.MinSuffix;
                for (int i = 0; i < c.Length; i++)
                    exact &= masked[b * c.Length + i] == (i >= starts[b] && i < starts[b] + lengths[b]);
            }
            var clean = batch.Masked.logical_not();
            bool tokens = batch.Tokens.masked_select(clean).SameAs(x0.masked_select(clean)) && batch.Tokens.masked_select(batch.Masked).eq(MaskId).all().item<bool>();
            return exact.Label("masked positions ≠ [start, start + length)")
                .And(bounds.Label("span leaves the prefix/suffix/padding bounds"))
                .And(tokens.Label("prefix and suffix unchanged, middle = m"))
                .And((batch.Masked.SameAs(again.Masked) && batch.Start.SameAs(again.Start)).Label("same seed, different span"))
                .Classify(c.Valid.Any(v => v < c.Length), "padded rows").Classify(c.MinPrefix + c.MinSuffix > 0, "min prefix/suffix");
        });

    [Fact]
    public void GivenSpanMasksExactlyThosePositions()
    {
        using var scope = NewDisposeScope();
        var x0 = arange(20, dtype: ScalarType.Int64).view(2, 10);
        var batch = SpanMasking.Apply(x0, MaskId, tensor(new long[] { 2, 0 }), tensor(new long[] { 3, 10 }));
        Assert.Equal(new long[] { 0, 1, MaskId, MaskId, MaskId, 5, 6, 7, 8, 9 }, batch.Tokens[0].data<long>().ToArray());
        Assert.True(batch.Tokens[1].eq(MaskId).all().item<bool>());
        Assert.Throws<ArgumentOutOfRangeException>(() => SpanMasking.Apply(x0, MaskId, tensor(new long[] { 8, 0 }), tensor(new long[] { 3, 1 })));
    }

    [Fact]
    public void SampleRejectsRowsWithNoRoomForAMiddle()
    {
        using var x0 = zeros([1, 5], dtype: ScalarType.Int64);
        var error = Assert.Throws<ArgumentException>(() => SpanMasking.Sample(x0, MaskId, new Generator(1), minPrefix: 3, minSuffix: 2));
        Assert.Contains("row 0", error.Message);
    }
}
