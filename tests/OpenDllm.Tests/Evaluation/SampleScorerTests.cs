using System.Text;
using System.Text.Json.Nodes;
using OpenDllm.Evaluation;

namespace OpenDllm.Tests.Evaluation;

/// <summary>Scoring a samples file: per-line and per-task errors, one crash never loses the others, resume after a partial run.</summary>
public sealed class SampleScorerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-score-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static readonly BenchmarkProblem[] Problems = Enumerable.Range(0, 8).Select(i => new BenchmarkProblem(
        BenchmarkTask.HumanEval, $"T/{i}", $"def f{i}(x):\n", $"    return x + {i}\n",
        $"def check(candidate):\n    assert candidate(1) == {1 + i}\n", EntryPoint: $"f{i}")).ToArray();

    string Samples(params string[] lines)
    {
        var path = Path.Combine(_dir, "samples.jsonl");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    static string Sample(string taskId, string completion) => new JsonObject { ["task_id"] = taskId, ["completion"] = completion }.ToJsonString();

    static List<JsonObject> Records(string path) => File.ReadLines(path).Select(TryParse).OfType<JsonObject>().ToList();

    static JsonObject? TryParse(string line)
    {
        try { return JsonNode.Parse(line) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    [Fact]
    public async Task BadLinesAndUnknownTasksBecomeRecordsAndTheRestIsScored()
    {
        var path = Samples(Sample("T/0", "    return x + 0\n"), "{not json", Sample("T/1", "    return x\n"),
            """{"task_id": "T/2"}""", Sample("nope/1", "    return 1\n"), Sample("T/3", "    return x + 3\n"));
        // a line that is not valid UTF-8
        File.AppendAllText(path, "");
        using (var stream = new FileStream(path, FileMode.Append)) stream.Write([.. Encoding.UTF8.GetBytes("{\"task_id\": \"T/4\", \"completion\": \""), 0xff, 0xfe, .. "\"}\n"u8]);

        var summary = await SampleScorer.ScoreAsync(path, Problems);

        Assert.Equal(2, summary.Passed);                       // T/0 and T/3
        Assert.Equal(1, summary.Failed);                       // T/1
        Assert.Equal(1, summary.Errors);                       // unknown task id
        Assert.Equal(3, summary.LineErrors);                   // bad JSON, no completion, bad UTF-8
        Assert.Equal(3, summary.ProblemsAttempted);
        Assert.Equal(2.0 / 3, summary.PassAt1!.Value, 9);
        var records = Records(path + "_opendllm.jsonl");
        Assert.Contains(records, r => (string?)r["message"] == "line is not valid UTF-8" && (int?)r["line"] == 7);
        Assert.Equal("summary", (string?)records[^1]["type"]);
    }

    [Fact]
    public async Task TaskWithoutTestsIsAnErrorRecordNotAPass()
    {
        var problems = new[] { Problems[0], Problems[1] with { Test = "" } };
        var summary = await SampleScorer.ScoreAsync(Samples(Sample("T/0", "    return x + 5\n"), Sample("T/1", "    return x + 1\n")), problems);
        Assert.Equal(1, summary.Errors);
        Assert.Equal(0, summary.Passed);
        Assert.Equal(0.0, summary.PassAt1);
    }

    [Fact]
    public async Task OneCrashingSampleNeverLosesTheOthers()
    {
        // T/2 aborts the interpreter (SIGABRT, a hard crash), T/5 loops forever; the others pass
        var lines = Problems.Select(p => Sample(p.TaskId, p.TaskId switch
        {
            "T/2" => "    import os\n    os.abort()\n",
            "T/5" => "    while True: pass\n",
            _ => p.CanonicalSolution,
        })).ToArray();
        var options = new ScoreOptions { Sandbox = new SandboxOptions { TimeoutSeconds = 1.5 } };
        var summary = await SampleScorer.ScoreAsync(Samples(lines), Problems, options);
        Assert.Equal(6, summary.Passed);
        Assert.Equal(1, summary.TimedOut);
        Assert.Equal(1, summary.Failed);
        Assert.Equal(8, Records(Path.Combine(_dir, "samples.jsonl_opendllm.jsonl")).Count(r => (string?)r["type"] == "sample"));
    }

    [Fact]
    public async Task ARunStoppedHalfwayResumesWithoutRedoingFinishedSamples()
    {
        var path = Samples([.. Problems.Select(p => Sample(p.TaskId, p.CanonicalSolution)), Sample("T/0", "    return 0\n")]);
        var results = Path.Combine(_dir, "out", "results.jsonl");
        using var stop = new CancellationTokenSource();
        int seen = 0;
        var first = new ScoreOptions { ResultsPath = results, Sandbox = new SandboxOptions { Workers = 1 }, OnRecord = _ => { if (++seen == 3) stop.Cancel(); } };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SampleScorer.ScoreAsync(path, Problems, first, stop.Token));
        var partial = Records(results);
        Assert.InRange(partial.Count, 3, 4);
        File.AppendAllText(results, "{\"type\": \"sample\", \"key\": \"T/7#0\", \"ta");       // a torn last line, as after a crash

        var summary = await SampleScorer.ScoreAsync(path, Problems, new ScoreOptions { ResultsPath = results, K = [1, 2] });
        Assert.Equal(partial.Count, summary.Resumed);
        Assert.Equal(9, summary.Samples);
        Assert.Equal(8, summary.Passed);
        Assert.Equal(8, summary.TasksPassed);
        Assert.Equal(7.5 / 8, summary.PassAt1!.Value, 9);                  // T/0 has 2 samples, 1 passed
        Assert.Null(summary.PassAtK["2"]);                                   // not every task has 2 samples
        var sampleKeys = Records(results).Where(r => (string?)r["type"] == "sample").Select(r => (string)r["key"]!).ToList();
        Assert.Equal(sampleKeys.Distinct().Count(), sampleKeys.Count);       // nothing was scored twice

        var again = await SampleScorer.ScoreAsync(path, Problems, new ScoreOptions { ResultsPath = results });
        Assert.Equal(9, again.Resumed);
        Assert.Equal(summary.PassAt1, again.PassAt1);
    }

    [Fact]
    public async Task ResultsOfAnotherTaskAreNotMixedIn()
    {
        var path = Samples(Sample("T/0", "    return x\n"));
        await SampleScorer.ScoreAsync(path, Problems);
        var mbpp = new[] { new BenchmarkProblem(BenchmarkTask.Mbpp, "1", "t", "x = 1", "assert x == 1", TestList: ["assert x == 1"]) };
        await Assert.ThrowsAsync<InvalidOperationException>(() => SampleScorer.ScoreAsync(path, mbpp));
    }
}
