using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

public static partial class BenchCommand
{
    /// <summary>
    /// `bench scalars`: the TorchSharp implicit-Scalar finalizer race (docs/torchsharp-scalars.md), measured. Worker threads
    /// run small tensor–number ops in a loop while another thread forces <c>GC.Collect(); GC.WaitForPendingFinalizers()</c>
    /// without pause, and every result is checked against its exact value. <c>--mode implicit</c> writes the ops as
    /// TorchSharp code usually does (<c>x.mul(c)</c>, <c>add_(y, alpha: c)</c>, <c>add_(y)</c>: Scalars only a finalizer
    /// frees); <c>--mode kept</c> runs the same ops through <see cref="ScalarOps"/>; <c>adamw-torchsharp</c> and
    /// <c>adamw-opendllm</c> step TorchSharp's AdamW and OpenDllm's on a 16-element parameter. Prints one JSON line with the
    /// ops run, the exceptions and wrong values seen and the commonest errors; exit 1 when any op failed. A race that corrupts memory can
    /// also kill the process (SIGSEGV/SIGABRT): that is a failure too. Not a timed test: the rate depends on the load.
    /// </summary>
    static Command CreateScalars(Option<int> threads, Option<string?> output)
    {
        var iterations = new Option<int>("--iterations") { Description = "Loop iterations per worker (3 checked ops, or one optimizer step, each).", DefaultValueFactory = _ => 200_000 };
        var workers = new Option<int>("--workers") { Description = "Worker threads running ops (the GC thread comes on top).", DefaultValueFactory = _ => 2 };
        var mode = new Option<string>("--mode")
        {
            Description = "implicit (TorchSharp's implicit double → Scalar conversions), kept (OpenDllm's ScalarOps), "
                + "adamw-torchsharp (torch.optim.AdamW steps) or adamw-opendllm (OpenDllm.Training.AdamW steps).",
            DefaultValueFactory = _ => "implicit",
        };
        mode.AcceptOnlyFromAmong("implicit", "kept", "adamw-torchsharp", "adamw-opendllm");
        var command = new Command("scalars", "Stress the TorchSharp Scalar finalizer race: tensor–number ops under forced GCs, implicit Scalars vs ScalarOps.")
            { threads, output, iterations, workers, mode };
        command.SetAction(p => CliErrors.Run(() =>
        {
            int n = p.GetValue(iterations), w = p.GetValue(workers);
            if (n < 1) throw new ArgumentException($"--iterations {n}: must be ≥ 1");
            if (w < 1) throw new ArgumentException($"--workers {w}: must be ≥ 1");
            var (report, _) = Start(p.GetValue(threads), p.GetValue(output), "scalars", "cpu");
            return RunScalars(report, p.GetValue(mode)!, n, w);
        }));
        return command;
    }

    static int RunScalars(BenchReport report, string mode, int iterations, int workers)
    {
        long exceptions = 0, wrong = 0, collections = 0, opsPerIteration = mode.StartsWith("adamw", StringComparison.Ordinal) ? 1 : 3;
        var errors = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref collections);
            }
        }) { IsBackground = true, Name = "forced-gc" };
        var clock = Stopwatch.StartNew();
        collector.Start();
        var threadsRun = Enumerable.Range(0, workers).Select(k => new Thread(() =>
        {
            var body = ScalarsWorker(mode, k);
            for (int i = 0; i < iterations; i++)
            {
                try
                {
                    using var scope = NewDisposeScope();
                    if (body(i) is { } problem) { Interlocked.Increment(ref wrong); errors.AddOrUpdate(problem, 1, (_, n) => n + 1); }
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref exceptions);
                    errors.AddOrUpdate(e.Message.Split('\n')[0], 1, (_, n) => n + 1);
                }
            }
        }) { Name = $"ops-{k}" }).ToList();
        threadsRun.ForEach(t => t.Start());
        threadsRun.ForEach(t => t.Join());
        stop.Cancel();
        collector.Join();
        double seconds = clock.Elapsed.TotalSeconds;
        long ops = opsPerIteration * iterations * workers;
        var messages = new JsonObject();
        foreach (var (message, count) in errors.OrderByDescending(e => e.Value).Take(5)) messages[message.Length > 120 ? message[..120] : message] = count;
        report.Emit(new JsonObject
        {
            ["bench"] = "scalars", ["mode"] = mode, ["workers"] = workers, ["iterations"] = iterations,
            ["ops"] = ops, ["op"] = opsPerIteration == 1 ? "optimizer step of a 16-element parameter" : "tensor-number op on 16 float32",
            ["forced_collections"] = collections, ["exceptions"] = exceptions, ["wrong_values"] = wrong,
            ["failures_per_million_ops"] = (exceptions + wrong) * 1e6 / ops, ["errors"] = messages, ["seconds"] = seconds,
        });
        report.Finish();
        return exceptions + wrong == 0 ? ExitCodes.Ok : ExitCodes.Error;
    }

    /// <summary>
    /// One checked iteration of <paramref name="mode"/> for worker <paramref name="worker"/>: returns null, or what was
    /// wrong. Tensors it makes belong to the caller's dispose scope; the worker's own state lives as long as the worker.
    /// </summary>
    static Func<int, string?> ScalarsWorker(string mode, int worker)
    {
        var ones = torch.ones(16, dtype: ScalarType.Float32).DetachFromDisposeScope();
        if (mode is "implicit" or "kept")
        {
            bool kept = mode == "kept";
            return i =>
            {
                double c = 1 + (i + worker) % 8 * 0.125;                                         // exact in float32
                var r = kept ? ones.MulScalar(c) : ones.mul(c);                                 // c
                float a = r.data<float>()[15];
                if (kept) r.AddScaled_(ones, c); else r.add_(ones, alpha: c);                    // 2c
                float b = r.data<float>()[15];
                if (kept) r.AddScaled_(ones); else r.add_(ones);                                 // 2c + 1 (alpha 1: an implicit Scalar too)
                float d = r.data<float>()[15];
                return a == (float)c && b == (float)(2 * c) && d == (float)(2 * c + 1) ? null : $"wrong value at c = {c}";
            };
        }
        var parameter = new TorchSharp.Modules.Parameter(torch.ones(16, dtype: ScalarType.Float32));
        var weights = torch.linspace(-1, 1, 16, dtype: ScalarType.Float32).DetachFromDisposeScope();
        optim.Optimizer optimizer = mode == "adamw-torchsharp"
            ? optim.AdamW([parameter], 1e-3, 0.9, 0.999, 1e-8, 0.01)
            : new OpenDllm.Training.AdamW([parameter], 1e-3, 0.9, 0.999, 1e-8, 0.01);
        return i =>
        {
            optimizer.zero_grad();
            (parameter * weights).sum().backward();
            optimizer.step();
            return parameter.isfinite().all().item<bool>() ? null : $"non-finite parameter after step {i + 1}";
        };
    }
}
