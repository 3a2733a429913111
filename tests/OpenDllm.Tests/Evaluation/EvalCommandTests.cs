using OpenDllm.Cli;
using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>`opendllm eval score`: prints pass@1 and the passed count; bad input is one line and exit code 1.</summary>
[Collection("Console")]
public sealed class EvalCommandTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-evalcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static (int Code, string Out, string Err) Run(params string[] args) => OpenDllm.Tests.Cli.CliCapture.Run(args);

    [Fact]
    public void ScoresCanonicalRandomSpanLightAndWritesResults()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var problems = BenchmarkLoader.Load(BenchmarkTask.HumanEvalInfillRandomSpanLight, data);
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems.Take(20), p => p.CanonicalSolution);
        var results = Path.Combine(_dir, "results.jsonl");
        var (code, text, err) = Run("eval", "score", samples, "--task", "humaneval-infill-random-light", "--data", data, "--out", results, "--k", "1");
        output.WriteLine(text + err);
        Assert.Equal(0, code);
        Assert.Contains("pass@1 = 100.00% (20/20 tasks passed", text);
        Assert.Contains("144 of 164 problems have no sample", text);
        Assert.Equal(1.0, (double?)ResultsLog.ReadSummary(results)!["pass_at_k"]!["1"]);
    }

    [Fact]
    public void BadInputIsOneLineAndExitCodeOne()
    {
        var samples = Path.Combine(_dir, "samples.jsonl");
        File.WriteAllText(samples, "{\"task_id\": \"HumanEval/0\", \"completion\": \"\"}\n");
        var (code, _, err) = Run("eval", "score", samples, "--task", "humaneval", "--data", _dir);   // no HumanEval.jsonl.gz there
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("HumanEval.jsonl.gz", err);
        Assert.Single(err.Trim().Split('\n'));

        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        (code, _, err) = Run("eval", "score", Path.Combine(_dir, "absent.jsonl"), "--task", "humaneval", "--data", data);
        Assert.Equal(1, code);
        Assert.Contains("samples file not found", err);
        (code, _, err) = Run("eval", "score", samples, "--task", "humaneval", "--data", data, "--k", "1,x");
        Assert.Equal(1, code);
        Assert.Contains("--k", err);
    }
}
