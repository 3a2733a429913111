using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Data;
using OpenDllm.Distributed;
using OpenDllm.Tests.Data;
using OpenDllm.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Distributed;

public sealed class DataParallelTests
{
    [Fact]
    public void Skip_moves_the_cursor_exactly_as_reading_that_many_rows_would()
    {
        using var temp = new DataTemp();
        var docs = Enumerable.Range(0, 7).Select(i => new Document($"d{i}", new string((char)('a' + i), 5 + 3 * i))).ToList();
        CorpusPreparer.Prepare(new ListCorpus(docs), ByteTokenizer.Instance, temp.Path + "/s", new PrepareOptions { ValidationFraction = 0 });
        using var set = TokenShardSet.Open(temp.Path + "/s");
        var property = Prop.ForAll(Gen.Choose(0, 40).ToArbitrary(), Gen.Choose(0, 40).ToArbitrary(), (before, skip) =>
        {
            var reading = new PackedLoader(set.Train, 1, 8, seed: 3);
            var skipping = new PackedLoader(set.Train, 1, 8, seed: 3);
            for (int i = 0; i < before; i++) { reading.Next().Dispose(); skipping.Next().Dispose(); }
            for (int i = 0; i < skip; i++) reading.Next().Dispose();
            DataParallel.Skip(skipping, skip);
            using var a = reading.Next();
            using var b = skipping.Next();
            return reading.Cursor == skipping.Cursor && a.Tokens.eq(b.Tokens).all().item<bool>();
        });
        Check.QuickThrowOnFailure(property);
    }

    [Theory]
    [InlineData(8, 1, 1)]
    [InlineData(8, 2, 2)]
    [InlineData(64, 4, 4)]
    [InlineData(12, 2, 3)]
    public void The_ranks_micro_batches_cover_a_step_once_in_order(int global, int micro, int world)
    {
        var ranges = ThreadGroup.Run(world, g => new DataParallel(g, CPU).MicroBatches(global, micro));
        var all = ranges.SelectMany(r => Enumerable.Range(r.Result.First, r.Result.Count)).ToList();
        Assert.Equal(Enumerable.Range(0, global / micro), all);
    }

    [Fact]
    public void A_step_that_does_not_split_over_the_ranks_is_refused_with_the_setting_to_change()
    {
        var results = ThreadGroup.Run(2, g => new DataParallel(g, CPU).MicroBatches(8, 8));
        foreach (var (_, error) in results)
            Assert.Contains("train.micro_batch_size=4", Assert.IsType<ArgumentException>(error).Message);
    }

    [Fact]
    public void Micro_batch_seeds_depend_on_seed_step_and_index_only()
    {
        var seeds = new HashSet<long>();
        for (long step = 0; step < 20; step++)
            for (int j = 0; j < 8; j++)
            {
                long s = DataParallel.MicroBatchSeed(7, step, j);
                Assert.True(s >= 0);
                Assert.Equal(s, DataParallel.MicroBatchSeed(7, step, j));
                Assert.True(seeds.Add(s));
            }
        Assert.NotEqual(DataParallel.MicroBatchSeed(7, 0, 0), DataParallel.MicroBatchSeed(8, 0, 0));
    }

    [Fact]
    public void Gradients_are_summed_over_the_ranks_across_buckets_of_several_dtypes()
    {
        var results = ThreadGroup.Run(3, g =>
        {
            using var scope = NewDisposeScope();
            var a = new TorchSharp.Modules.Parameter(zeros(5));
            var b = new TorchSharp.Modules.Parameter(zeros(2, 3, dtype: ScalarType.Float64));
            var c = new TorchSharp.Modules.Parameter(zeros(4));                 // a gradient on rank 1 only
            a.grad = full(5, g.Rank + 1.0f);
            b.grad = arange(6, dtype: ScalarType.Float64).reshape(2, 3) * (g.Rank + 1);
            if (g.Rank == 1) c.grad = ones(4);
            var parallel = new DataParallel(g, CPU);
            parallel.SumGradients([a, b, c]);
            return (A: a.grad!.data<float>().ToArray(), B: b.grad!.data<double>().ToArray(), C: c.grad?.data<float>().ToArray());
        });
        foreach (var (result, error) in results)
        {
            Assert.Null(error);
            Assert.All(result.A, v => Assert.Equal(6f, v));                      // 1 + 2 + 3
            Assert.Equal(new double[] { 0, 6, 12, 18, 24, 30 }, result.B);
            Assert.Equal(new float[] { 1, 1, 1, 1 }, result.C);
        }
    }

    [Fact]
    public void Ranks_with_another_recipe_or_data_stop_together_naming_what_differs()
    {
        var results = ThreadGroup.Run(3, g =>
        {
            var parallel = new DataParallel(g, CPU);
            parallel.EnsureSameRun("recipe", "data");                                      // all equal: passes
            parallel.EnsureSameRun(g.Rank == 2 ? "other recipe" : "recipe", g.Rank == 1 ? "other data" : "data");
            return 0;
        });
        foreach (var (_, error) in results)
        {
            var message = Assert.IsType<InvalidOperationException>(error).Message;
            Assert.Contains("rank 2 has another recipe than rank 0", message);
            Assert.Contains("rank 1 reads other data", message);
        }
    }

    [Fact]
    public void When_rank_0_fails_its_work_every_rank_fails()
    {
        var results = ThreadGroup.Run(2, g =>
        {
            new DataParallel(g, CPU).RootFirst("writing a checkpoint", () => throw new IOException("disk full"));
            return 0;
        });
        Assert.Equal("disk full", Assert.IsType<IOException>(results[0].Error).Message);
        Assert.Contains("rank 0 failed while writing a checkpoint", Assert.IsType<InvalidOperationException>(results[1].Error).Message);
    }

    [Fact]
    public void Stopping_is_agreed_when_any_rank_asks_and_budgets_follow_rank_0()
    {
        var results = ThreadGroup.Run(3, g =>
        {
            var parallel = new DataParallel(g, CPU);
            return (Signal: parallel.Any(g.Rank == 2), Budget: parallel.Any(false, rootDecides: g.Rank != 0), Steps: parallel.FromRoot(100 + g.Rank));
        });
        Assert.All(results, r => Assert.Equal((true, false, 100L), r.Result));
    }
}
