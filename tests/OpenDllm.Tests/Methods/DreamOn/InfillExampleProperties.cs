using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Methods.DreamOn;

namespace OpenDllm.Tests.Methods.DreamOn;

/// <summary>The invariants of DreamOn's data transformation (SPEC §5.7) over random segments and settings.</summary>
public sealed class InfillExampleProperties
{
    const long Mask = 258, NewLine = 10;
    static readonly DreamOnTokens Tokens = new(262, 263);

    public sealed record Case(long[] Segment, int RowLength, DreamOnOptions Options, int Seed);

    static Arbitrary<Case> Cases() =>
        (from n in Gen.Choose(2, 60)
         from tokens in Gen.ArrayOf(Gen.Frequency((1, Gen.Constant(NewLine)), (6, Gen.Choose(32, 126).Select(t => (long)t))), n)
         from extra in Gen.Choose(0, 40)
         from mergeProb in Gen.Elements(0.0, 0.5, 1.0)
         from schedule in Gen.Elements(MergeSchedule.DynamicInverse, MergeSchedule.Static)
         from maxDelete in Gen.Choose(0, 70)
         from lines in Gen.Choose(1, 4)
         from maxTokens in Gen.Choose(1, 64)
         from seed in Gen.Choose(0, 100_000)
         select new Case(tokens, n + extra,
             new DreamOnOptions { MergeProb = mergeProb, MergeSchedule = schedule, MaxDelete = maxDelete, MaxMiddleLines = lines, MaxMiddleTokens = maxTokens },
             seed)).ToArbitrary();

    static InfillExample Build(Case c) =>
        InfillExample.Build(c.Segment, c.RowLength, t => t == NewLine, c.Options, Tokens, Mask, new Random(c.Seed));

    [Property(MaxTest = 300)]
    public Property ExpandingMergedPairsAndDroppingDeletesGivesBackTheMiddle() => Prop.ForAll(Cases(), c =>
    {
        var e = Build(c);
        var middle = c.Segment.Skip(e.PrefixLength).Take(e.Middle.Length).ToArray();
        return (e.Expanded(Tokens).SequenceEqual(e.Middle) && middle.SequenceEqual(e.Middle))
            .Label($"expanded [{string.Join(",", e.Expanded(Tokens))}] vs middle [{string.Join(",", e.Middle)}]");
    });

    [Property(MaxTest = 300)]
    public Property LengthsStayWithinTheBudgets() => Prop.ForAll(Cases(), c =>
    {
        var e = Build(c);
        int merges = e.Merged.Length;
        return (e.Input.Length <= c.RowLength).Label("the example fits the row")
            .And((e.Labels.Length == e.Input.Length).Label("one label per position"))
            .And((e.Middle.Length is >= 1 && e.Middle.Length <= c.Options.MaxMiddleTokens).Label("1 ≤ middle ≤ max_middle_tokens"))
            .And((e.Deletes <= c.Options.MaxDelete).Label("deletes ≤ max_delete"))
            .And((e.MiddleLength == e.Middle.Length - merges + e.Deletes).Label("middle′ = middle − merges + deletes"))
            .And((e.PrefixLength >= 1).Label("a token before the middle"));
    });

    [Property(MaxTest = 300)]
    public Property PrefixAndSuffixAreUntouchedAndOnlyTheMiddlesMasksAreScored() => Prop.ForAll(Cases(), c =>
    {
        var e = Build(c);
        int end = e.PrefixLength + e.MiddleLength, originalEnd = e.PrefixLength + e.Middle.Length;
        bool prefix = e.Input.Take(e.PrefixLength).SequenceEqual(c.Segment.Take(e.PrefixLength));
        bool suffix = e.Input.Skip(end).SequenceEqual(c.Segment.Skip(originalEnd).Take(e.Input.Length - end));
        bool scoredAreMasks = Enumerable.Range(0, e.Input.Length).All(i => e.Labels[i] == InfillExample.Ignore || e.Input[i] == Mask);
        bool scoredInMiddle = Enumerable.Range(0, e.Input.Length).All(i => e.Labels[i] == InfillExample.Ignore || i >= e.PrefixLength && i < end);
        bool deletesLast = Enumerable.Range(e.PrefixLength, e.MiddleLength)
            .All(i => (e.Labels[i] == Tokens.Delete) == (i >= end - e.Deletes));
        bool expands = e.Labels.Count(l => l == Tokens.Expand) == e.Merged.Length;
        return prefix.Label("prefix kept").And(suffix.Label("suffix kept, cut only at the right"))
            .And(scoredAreMasks.Label("every scored position is a mask")).And(scoredInMiddle.Label("only middle positions scored"))
            .And(deletesLast.Label("deletes are exactly the last d middle positions")).And(expands.Label("one expand label per merged pair"));
    });

    [Property(MaxTest = 100)]
    public Property NoMergeAtProbabilityZeroAndTheSameSeedGivesTheSameExample() => Prop.ForAll(Cases(), c =>
    {
        var none = InfillExample.Build(c.Segment, c.RowLength, t => t == NewLine, c.Options with { MergeProb = 0 }, Tokens, Mask, new Random(c.Seed));
        var (a, b) = (Build(c), Build(c));
        return (none.Merged.Length == 0).Label("merge_prob 0 merges nothing")
            .And((a.Input.SequenceEqual(b.Input) && a.Labels.SequenceEqual(b.Labels)).Label("deterministic for a seed"));
    });

    /// <summary>With merge_prob 1 and the static schedule, every adjacent masked pair is merged (greedily from the left), so
    /// no two plainly labelled masks are neighbours in middle′.</summary>
    [Property(MaxTest = 200)]
    public Property StaticMergeProbabilityOneMergesEveryAdjacentMaskedPair() => Prop.ForAll(Cases(), c =>
    {
        var e = Build(c with { Options = c.Options with { MergeProb = 1, MergeSchedule = MergeSchedule.Static } });
        bool Plain(int i) => e.Labels[i] != InfillExample.Ignore && e.Labels[i] != Tokens.Expand && e.Labels[i] != Tokens.Delete;
        int end = e.PrefixLength + e.MiddleLength - e.Deletes;
        return Enumerable.Range(e.PrefixLength, Math.Max(0, end - e.PrefixLength - 1)).All(i => !(Plain(i) && Plain(i + 1)))
            .Label("no two adjacent plain masks");
    });

    /// <summary>The middle is whole lines when the segment has a line end: it starts right after one and ends with one
    /// (or at the segment's end, or at max_middle_tokens).</summary>
    [Fact]
    public void TheMiddleIsWholeLines()
    {
        long[] segment = [.. "ab\ncd\nef\ngh".Select(ch => (long)ch)];
        var options = new DreamOnOptions { MaxMiddleLines = 1, MaxDelete = 0 };
        for (int seed = 0; seed < 50; seed++)
        {
            var e = InfillExample.Build(segment, 32, t => t == NewLine, options, Tokens, Mask, new Random(seed));
            Assert.Equal(NewLine, segment[e.PrefixLength - 1]);
            Assert.Contains(new string(e.Middle.Select(t => (char)t).ToArray()), new[] { "cd\n", "ef\n", "gh" });
        }
    }
}
