using System.Diagnostics;
using System.Text.Json.Nodes;

namespace OpenDllm.Cli.Commands.Bench;

/// <summary>JSON-lines output of `opendllm bench`, with the keys of ../shared/reference/bench_ref.py.</summary>
public sealed class BenchReport(string? outPath)
{
    readonly List<string> _lines = [];

    /// <summary>Prints (and keeps) one JSON line. A throughput must say which tokens it counts: a record with
    /// <c>tokens_per_s</c> needs <c>counted</c> (<see cref="CountedGenerated"/> or <see cref="CountedProcessed"/>).</summary>
    public void Emit(JsonObject record)
    {
        if (record.ContainsKey("tokens_per_s") && !record.ContainsKey("counted"))
            throw new InvalidOperationException($"bench row '{record["bench"]}' reports tokens_per_s without saying which tokens it counts");
        var line = record.ToJsonString();
        _lines.Add(line);
        Console.WriteLine(line);
    }

    /// <summary><c>counted</c> of a generation throughput: the positions the sampler filled, never the prompt or context.</summary>
    public const string CountedGenerated = "generated";

    /// <summary><c>counted</c> of a training or forward throughput: every input position of the step (batch × sequence).</summary>
    public const string CountedProcessed = "processed";

    public void Finish()
    {
        Emit(new JsonObject { ["bench"] = "memory", ["max_rss_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0) });
        if (outPath is not null) OpenDllm.IO.AtomicFile.WriteAllText(outPath, string.Join("\n", _lines) + "\n");
    }

    /// <summary>Runs <paramref name="action"/> <paramref name="warmup"/> times untimed, then <paramref name="reps"/> times timed (seconds).</summary>
    public static List<double> Time(Action action, int warmup, int reps)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new List<double>(reps);
        for (int i = 0; i < reps; i++)
        {
            var w = Stopwatch.StartNew();
            action();
            times.Add(w.Elapsed.TotalSeconds);
        }
        return times;
    }

    /// <summary>median_s, min_s, max_s, reps.</summary>
    public static JsonObject Summary(List<double> times)
    {
        var sorted = times.Order().ToList();
        double median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        return new JsonObject { ["median_s"] = median, ["min_s"] = sorted[0], ["max_s"] = sorted[^1], ["reps"] = times.Count };
    }

    public static double Median(List<double> times) => (double)Summary(times)["median_s"]!;
}
