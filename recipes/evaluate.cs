// evaluate: the pass@k estimator, then HumanEval-Infill (single line) scored through the Python sandbox.
//
//   dotnet run recipes/evaluate.cs                      # the first 20 tasks
//   dotnet run recipes/evaluate.cs -- --tasks 100       # more tasks; --small (or OPENDLLM_RECIPE_SMALL=1): 5 tasks, for CI
//   OPENDLLM_BENCHMARKS=/data/benchmarks dotnet run recipes/evaluate.cs
//
// What it does: (1) prints the unbiased pass@k estimator (Chen et al. 2021) next to the naive c/n for a few (n, c, k), so
// you can see why pass@k is not simply "some sample of k passed". (2) Loads HumanEval-SingleLineInfilling from
// $OPENDLLM_BENCHMARKS or ../shared/data/benchmarks beside the repository (data-scripts/benchmarks.md says where to get
// it; if it is absent the recipe says so and exits 0), writes a samples file in the official format with two samples per
// task, the canonical middle and an empty middle, and scores it with SampleScorer: each program runs in its own python3
// process with a timeout, rlimits and no network. No model is involved; this is the harness a model's samples go through
// (`opendllm eval humaneval-infill CHECKPOINT` does the generation part).
//
// How long: about 2 s after the first build (40 programs, each a python3 start, 2 workers).
//
// What you should see: the pass@k table; then "canonical N/N passed", "empty middle 0/N passed" (for the first tasks: a line
// of code removed breaks the function), pass@1 = 50.00% and pass@2 = 100.00% over the two samples per task, and which sandbox
// isolation was active. It exits 1 if a canonical middle fails.
#:project ../OpenDllm.Core/OpenDllm.Core.csproj

using System.Globalization;
using System.Text.Json;
using OpenDllm.Evaluation;

bool small = args.Contains("--small") || Environment.GetEnvironmentVariable("OPENDLLM_RECIPE_SMALL") is "1" or "true";
int tasks = Array.IndexOf(args, "--tasks") is var at and >= 0 && at + 1 < args.Length
    ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : small ? 5 : 20;

// 1. pass@k: the probability that at least one of k samples drawn without replacement from n (c correct) passes
Console.WriteLine("pass@k estimator: 1 − C(n−c, k) / C(n, k)");
Console.WriteLine($"{"n",4} {"c",4} {"k",4} {"pass@k",9} {"c/n",7}");
foreach (var (n, c, k) in new[] { (10, 1, 1), (10, 1, 5), (10, 5, 1), (10, 5, 5), (20, 2, 10), (200, 10, 100) })
    Console.WriteLine($"{n,4} {c,4} {k,4} {PassAtK.Estimate(n, c, k),9:P2} {(double)c / n,7:P0}");
var problemsNc = new[] { (N: 2, C: 1), (N: 2, C: 2), (N: 2, C: 0) };
Console.WriteLine($"mean over problems (n, c) = (2, 1), (2, 2), (2, 0): pass@1 {PassAtK.Mean(problemsNc, 1):P2}, pass@2 {PassAtK.Mean(problemsNc, 2):P2}, "
                  + $"pass@3 {(PassAtK.Mean(problemsNc, 3) is { } p3 ? p3.ToString("P2") : "not reported (n < k)")}\n");

// 2. HumanEval-Infill single-line: canonical middles and empty middles through the sandbox
IReadOnlyList<BenchmarkProblem> all;
try
{
    all = BenchmarkLoader.Load(BenchmarkTask.HumanEvalInfillSingleLine);
}
catch (Exception e) when (e is DirectoryNotFoundException or InvalidDataException)
{
    Console.WriteLine($"HumanEval-Infill skipped: {e.Message}");
    return 0;
}
var problems = all.Take(tasks).ToList();
var folder = Path.GetFullPath("runs/recipes/evaluate");
Directory.CreateDirectory(folder);
var samples = Path.Combine(folder, "samples.jsonl");
var results = Path.Combine(folder, "samples_opendllm.jsonl");
File.Delete(results);                                                      // the scorer resumes from an existing results file
using (var writer = new StreamWriter(samples))
    foreach (var p in problems)
    {
        writer.WriteLine(JsonSerializer.Serialize(new { task_id = p.TaskId, completion = p.CanonicalSolution }));
        writer.WriteLine(JsonSerializer.Serialize(new { task_id = p.TaskId, completion = "" }));
    }
Console.WriteLine($"HumanEval-Infill single-line: {problems.Count} of {all.Count} tasks, 2 samples each → {samples}");
Console.WriteLine($"  e.g. {problems[0].TaskId}: middle = {problems[0].CanonicalSolution.TrimEnd()}");

var records = new List<SampleResultRecord>();
var summary = await SampleScorer.ScoreAsync(samples, all, new ScoreOptions
{
    ResultsPath = results, K = [1, 2], Sandbox = new SandboxOptions { TimeoutSeconds = 5, Workers = 2 },
    OnRecord = r => { lock (records) records.Add(r); },
});
var byKind = records.Where(r => r.Type == "sample").GroupBy(r => r.SampleIndex == 0 ? "canonical" : "empty middle");
foreach (var g in byKind.OrderBy(g => g.Key))
    Console.WriteLine($"  {g.Key,-13} {g.Count(r => r.Passed)}/{g.Count()} passed"
                      + (g.FirstOrDefault(r => !r.Passed) is { } f && g.Key == "canonical" ? $" (first failure {f.TaskId}: {f.Status} {f.Stderr})" : ""));
Console.WriteLine($"  pass@1 {summary.PassAtK["1"]:P2}, pass@2 {summary.PassAtK["2"]:P2} over {summary.ProblemsAttempted} tasks; "
                  + $"{summary.Samples} programs in {summary.ElapsedSeconds:F1} s");
Console.WriteLine($"  sandbox: {summary.Isolation}; python {summary.PythonVersion}; timeout {summary.TimeoutSeconds} s; results {results}");
return records.Any(r => r.SampleIndex == 0 && !r.Passed) ? 1 : 0;
