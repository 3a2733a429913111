using System.CommandLine;
using System.Text.Json.Nodes;
using OpenDllm.Distributed;
using OpenDllm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

public static partial class BenchCommand
{
    /// <summary>
    /// `bench collectives`: joins the job this process was launched into (mpirun, or <c>opendllm launch</c> with a CUDA
    /// device) and checks and times its collectives: all-reduce of 1 K, 1 M and 16 M float32 elements (rank r contributes
    /// r + 1, every element must become N(N+1)/2), broadcast and all-gather. Rank 0 prints one JSON line per size (median
    /// seconds, bus bandwidth 2(N−1)/N · bytes / s); exit 1 when a result is wrong.
    /// </summary>
    static Command CreateCollectives(Option<int> threads, Option<string?> output, Option<string?> deviceOption)
    {
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per size.", DefaultValueFactory = _ => 10 };
        var command = new Command("collectives", "Check and time the collectives of the job this process belongs to (mpirun, or opendllm launch on CUDA).")
            { threads, output, deviceOption, reps };
        command.SetAction(p => CliErrors.Run(() =>
        {
            TorchRuntime.EnsureLoaded();
            var device = Collectives.LocalDevice(TorchRuntime.ParseDevice(p.GetValue(deviceOption)));
            using var group = Collectives.FromEnvironment(device);
            var stdout = Console.Out;
            if (group.Rank != 0) Console.SetOut(TextWriter.Null);
            try
            {
                var (report, _) = Start(p.GetValue(threads), group.Rank == 0 ? p.GetValue(output) : null, "collectives", p.GetValue(deviceOption));
                return RunCollectives(report, group, group is NcclGroup ? device : CPU, p.GetValue(reps));
            }
            finally { Console.SetOut(stdout); }
        }));
        return command;
    }

    static int RunCollectives(BenchReport report, ICollectiveGroup group, Device device, int reps)
    {
        int n = group.WorldSize;
        bool ok = true;
        foreach (long count in new long[] { 1 << 10, 1 << 20, 1 << 24 })
        {
            using var buffer = empty(count, dtype: ScalarType.Float32, device: device);
            double expected = n * (n + 1) / 2.0;
            bool right = true;
            var times = BenchReport.Time(() =>
            {
                buffer.fill_(group.Rank + 1.0);
                group.AllReduceSum(buffer);
                right &= buffer.eq(expected).all().item<bool>();
            }, 2, reps);
            ok &= right;
            double median = BenchReport.Median(times);
            var record = new JsonObject
            {
                ["bench"] = "all_reduce", ["backend"] = group.Backend, ["ranks"] = n, ["elements"] = count, ["bytes"] = count * 4,
                ["correct"] = right, ["bus_gb_per_s"] = 2.0 * (n - 1) / Math.Max(1, n) * count * 4 / median / 1e9,
            };
            foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
            report.Emit(record);
        }
        using (var b = full(1000, group.Rank == 0 ? 7.0f : -1.0f, device: device))
        {
            group.Broadcast(b);
            bool right = b.eq(7.0f).all().item<bool>();
            using var mine = full(3, (float)group.Rank, device: device);
            using var all = empty(3 * n, device: device);
            group.AllGather(mine, all);
            using var want = arange(n, dtype: ScalarType.Float32, device: device).repeat_interleave(3);
            right &= all.eq(want).all().item<bool>();
            group.Barrier();
            ok &= right;
            report.Emit(new JsonObject { ["bench"] = "broadcast_all_gather_barrier", ["backend"] = group.Backend, ["ranks"] = n, ["correct"] = right });
        }
        report.Finish();
        return ok ? 0 : 1;
    }
}
