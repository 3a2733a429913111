using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// Living beside openai/human-eval (issue 16 part 5): the official task names are accepted, the default results file is
/// not human-eval's <c>SAMPLES_results.jsonl</c>, and a human-eval results file is never written to, and programs run with
/// empty globals (<c>__name__</c> is not "__main__").
/// </summary>
[Collection("Console")]
public sealed class OfficialHarnessCompatibilityTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-official-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static readonly BenchmarkProblem Problem = new(BenchmarkTask.HumanEval, "T/0", "def inc(x):\n", "    return x + 1\n",
        "def check(f):\n    assert f(1) == 2\n", "inc");

    [Theory]
    [InlineData("humaneval-infill-single-line", BenchmarkTask.HumanEvalInfillSingleLine)]
    [InlineData("single-line", BenchmarkTask.HumanEvalInfillSingleLine)]
    [InlineData("HumanEval-SingleLineInfilling", BenchmarkTask.HumanEvalInfillSingleLine)]
    [InlineData("humaneval-infill-multi-line", BenchmarkTask.HumanEvalInfillMultiLine)]
    [InlineData("random-span", BenchmarkTask.HumanEvalInfillRandomSpan)]
    [InlineData("humaneval-infill-random-span-light", BenchmarkTask.HumanEvalInfillRandomSpanLight)]
    [InlineData("sanitized-mbpp", BenchmarkTask.MbppSanitized)]
    [InlineData("HumanEval", BenchmarkTask.HumanEval)]
    [InlineData("humaneval-infill-single", BenchmarkTask.HumanEvalInfillSingleLine)]
    public void OfficialTaskNamesAreAccepted(string name, BenchmarkTask task) => Assert.Equal(task, BenchmarkTasks.Parse(name));

    [Fact]
    public void AnUnknownTaskNameListsTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => BenchmarkTasks.Parse("single-lines"));
        Assert.Contains("humaneval-infill-single-line", e.Message);
    }

    [Fact]
    public void EvalScoreTakesTheOfficialSubsetName()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var problems = BenchmarkLoader.Load(BenchmarkTask.HumanEvalInfillSingleLine, data);
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems.Take(3), p => p.CanonicalSolution);
        var (code, text, err) = OpenDllm.Tests.Cli.CliCapture.Run("eval", "score", samples, "--task", "humaneval-infill-single-line", "--data", data);
        output.WriteLine(text + err);
        Assert.Equal(0, code);
        Assert.Contains("humaneval-infill-single: pass@1 = 100.00% (3/3 tasks passed", text);
        Assert.True(File.Exists(samples + "_opendllm.jsonl"));
        Assert.False(File.Exists(samples + "_results.jsonl"));
    }

    [Fact]
    public async Task TheDefaultResultsFileIsNotHumanEvals()
    {
        var samples = Path.Combine(_dir, "samples.jsonl");
        File.WriteAllText(samples, "{\"task_id\": \"T/0\", \"completion\": \"    return x + 1\\n\"}\n");
        var summary = await SampleScorer.ScoreAsync(samples, [Problem], new ScoreOptions { Sandbox = new SandboxOptions { Workers = 1, TimeoutSeconds = 30 } });
        Assert.Equal(Path.GetFullPath(samples + "_opendllm.jsonl"), summary.ResultsFile);
        Assert.Equal(1, summary.Passed);
        Assert.False(File.Exists(samples + "_results.jsonl"));
    }

    [Fact]
    public async Task HumanEvalsResultsFileIsNeverWritten()
    {
        var samples = Path.Combine(_dir, "samples.jsonl");
        File.WriteAllText(samples, "{\"task_id\": \"T/0\", \"completion\": \"    return x + 1\\n\"}\n");
        // its own name, even when absent and even with --force
        var theirs = samples + "_results.jsonl";
        var e = await Assert.ThrowsAsync<ArgumentException>(() => SampleScorer.ScoreAsync(samples, [Problem],
            new ScoreOptions { ResultsPath = theirs, Force = true }));
        Assert.Contains("openai/human-eval writes", e.Message);
        Assert.False(File.Exists(theirs));
        // a human-eval results file under another name: left byte for byte as it was
        var renamed = Path.Combine(_dir, "renamed.jsonl");
        const string humanEvalRows = "{\"task_id\": \"T/0\", \"completion\": \"    return x + 1\\n\", \"result\": \"passed\", \"passed\": true}\n";
        File.WriteAllText(renamed, humanEvalRows);
        var foreign = await Assert.ThrowsAsync<InvalidOperationException>(() => SampleScorer.ScoreAsync(samples, [Problem],
            new ScoreOptions { ResultsPath = renamed }));
        Assert.Contains("not an OpenDllm results file", foreign.Message);
        Assert.Equal(humanEvalRows, File.ReadAllText(renamed));
        Assert.Single(Directory.GetFiles(_dir, "renamed*"));
    }

    [Fact]
    public async Task ProgramsRunWithEmptyGlobalsAsInTheOfficialHarness()
    {
        var sandbox = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 30 });
        var guarded = await sandbox.RunAsync("x = 1\nif __name__ == '__main__':\n    assert False\n");
        Assert.True(guarded.Passed, guarded.Stderr);
        var name = await sandbox.RunAsync("assert __name__ == 'builtins', __name__\n");
        Assert.True(name.Passed, name.Stderr);
    }
}
