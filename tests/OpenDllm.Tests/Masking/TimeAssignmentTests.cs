using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Masking;
using OpenDllm.TimeSampling;
using static OpenDllm.Tests.Schedules.ScheduleGenerators;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Masking;

/// <summary>One t per sequence, per packed document (SPEC §2.2) or per block (SPEC §4.2).</summary>
public class TimeAssignmentTests
{
    private static readonly ITimestepSampler[] Samplers =
        [new UniformTimestepSampler(), new AntitheticTimestepSampler(), ClampedUniformTimestepSampler.OpenDllm];

    /// <summary>Packed rows: each row is a run of documents (lengths 1…6), ids counting up per row, as a collator packs them.</summary>
    private static Gen<long[][]> PackedDocumentIds =>
        from batch in Gen.Choose(1, 3)
        from length in Gen.Choose(1, 24)
        from cuts in Gen.ArrayOf(Gen.ArrayOf(Gen.Choose(0, 5), length), batch)
        select cuts.Select(row =>
        {
            long id = 0; var ids = new long[length];
            for (int i = 0; i < length; i++) { if (i > 0 && row[i] == 0) id++; ids[i] = id; }
            return ids;
        }).ToArray();

    [Property(MaxTest = 100)]
    public Property PerDocumentTimeIsConstantWithinEachDocumentAndOnePerDocument() =>
        Prop.ForAll(Zip(PackedDocumentIds, Gen.Elements(Samplers), Gen.Choose(0, int.MaxValue)).ToArbitrary(), x =>
        {
            var (rows, sampler, seed) = x;
            using var scope = NewDisposeScope();
            long batch = rows.Length, length = rows[0].Length;
            var ids = tensor(rows.SelectMany(r => r).ToArray()).view(batch, length);
            var t = TimeAssignment.PerDocument(ids, sampler, new Generator((ulong)seed), ScalarType.Float64);
            var values = t.data<double>().ToArray();
            var byDoc = new Dictionary<(int, long), HashSet<double>>();
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < length; i++)
                {
                    var key = (b, rows[b][i]);
                    if (!byDoc.TryGetValue(key, out var set)) byDoc[key] = set = [];
                    set.Add(values[b * length + i]);
                }
            int documents = byDoc.Count;
            // the clamped sampler puts a point mass (~0.2 % each) at both bounds: documents there may share a t
            bool AtClamp(double v) => sampler is ClampedUniformTimestepSampler c && (v <= c.Min || v >= c.Max);
            var firsts = byDoc.Values.Select(v => v.First()).ToList();
            int clamped = firsts.Count(AtClamp);
            int distinctTimes = firsts.Where(v => !AtClamp(v)).Distinct().Count() + clamped;
            return byDoc.Values.All(v => v.Count == 1).Label("a document has more than one t")
                .And((distinctTimes == documents).Label($"{documents} documents but {distinctTimes} distinct times"))
                .And(t.shape.SequenceEqual(new[] { batch, length }).Label("shape [B, L]"))
                .Classify(documents == batch, "one document per row").Classify(documents > 2 * batch, "many documents")
                .Collect(sampler.Name);
        });

    /// <summary>Antithetic over documents: the K documents (in (row, id) order) take one stratum each.</summary>
    [Fact]
    public void PerDocumentAntitheticStratifiesAcrossDocuments()
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 0, 0, 1, 1, 1, 2, 0, 0, 0, 3, 3, 3 }).view(2, 6);               // 5 documents; ids need not be contiguous
        var sampler = new AntitheticTimestepSampler(epsilon: 0);
        var t = TimeAssignment.PerDocument(ids, sampler, new Generator(11), ScalarType.Float64).data<double>().ToArray();
        double[] perDoc = [t[0], t[2], t[5], t[6], t[9]];                                              // (0,0) (0,1) (0,2) (1,0) (1,3)
        for (int j = 0; j < 5; j++) Assert.Equal(j, sampler.StratumOf(perDoc[j], 5));
    }

    [Property(MaxTest = 100)]
    public Property PerBlockTimeIsConstantWithinEachBlockAndStratifiedAcrossBlocks() =>
        Prop.ForAll(Zip(Gen.Choose(1, 3), Gen.Choose(1, 20), Gen.Choose(1, 6), Gen.Choose(0, int.MaxValue)).ToArbitrary(), x =>
        {
            var (batch, length, blockSize, seed) = x;
            using var scope = NewDisposeScope();
            var sampler = new AntitheticTimestepSampler(epsilon: 0);
            var t = TimeAssignment.PerBlock(sampler, batch, length, blockSize, new Generator((ulong)seed), ScalarType.Float64);
            var v = t.data<double>().ToArray();
            long blocks = (length + blockSize - 1) / blockSize;
            bool constant = true; var strata = new HashSet<long>();
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < length; i++)
                {
                    constant &= v[b * length + i] == v[b * length + i / blockSize * blockSize];
                    strata.Add(sampler.StratumOf(v[b * length + i], batch * blocks));
                }
            return constant.Label("t varies inside a block")
                .And((strata.Count == batch * blocks).Label($"{strata.Count} strata for {batch * blocks} blocks"))
                .Classify(length % blockSize != 0, "partial last block").Classify(blockSize == 1, "b = 1");
        });

    [Fact]
    public void PerSequenceBroadcastsOneTimePerRow()
    {
        using var scope = NewDisposeScope();
        var t = TimeAssignment.PerSequence(tensor(new[] { 0.1f, 0.9f }), 5);
        Assert.Equal([2L, 5L], t.shape);
        Assert.True(t[0].eq(0.1f).all().item<bool>() && t[1].eq(0.9f).all().item<bool>());
        var sampled = TimeAssignment.PerSequence(ClampedUniformTimestepSampler.OpenDllm, 64, 3, new Generator(5));
        Assert.True(sampled.ge(1.0f / 500).all().item<bool>() && sampled.le(1.0f - 1.0f / 500).all().item<bool>());
        Assert.True(sampled.select(1, 0).SameAs(sampled.select(1, 2)));
    }

    [Fact]
    public void PerDocumentRejectsNegativeIds()
    {
        using var ids = tensor(new long[] { 0, -1 }).view(1, 2);
        Assert.Throws<ArgumentException>(() => TimeAssignment.PerDocument(ids, new UniformTimestepSampler(), new Generator(1)));
    }
}
