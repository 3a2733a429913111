using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Evaluation;
using OpenDllm.Tokenization;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// Scores are never stale (through the CLI): a results row is resumed only when its completion, program and settings
/// hashes match the sample now at its key; otherwise the old results file is kept aside and the row is re-scored, and the
/// printed summary says which happened. Also: an output never overwrites an input (<c>--out</c> = the samples file, or
/// the checkpoint folder), and a timeout is its own status in the rows and the printed summary.
/// </summary>
[Collection("Console")]
public sealed class EvalFreshnessTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-fresh-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    (int Code, string Out, string Err) Run(params string[] args)
    {
        var result = OpenDllm.Tests.Cli.CliCapture.Run(args);
        output.WriteLine($"$ opendllm {string.Join(' ', args)}\n{result.Out}{result.Err}(exit {result.Code})");
        return result;
    }

    bool TryHumanEval(int count, out string data, out List<BenchmarkProblem> problems)
    {
        problems = [];
        if (!BenchmarkTestData.TryGetDirectory(output, out data)) return false;
        problems = BenchmarkLoader.Load(BenchmarkTask.HumanEval, data).Take(count).ToList();
        return true;
    }

    (int Code, string Out, string Err) Score(string samples, string data, string results, params string[] extra) =>
        Run(["eval", "score", samples, "--task", "humaneval", "--data", data, "--out", results, .. extra]);

    static List<JsonObject> Rows(string results) =>
        File.ReadLines(results).Select(l => JsonNode.Parse(l) as JsonObject).OfType<JsonObject>().Where(o => (string?)o["type"] == "sample").ToList();

    [Fact]
    public void NewCompletionsAreReScoredNotResumed()
    {
        if (!TryHumanEval(5, out var data, out var problems)) return;
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => p.CanonicalSolution);
        var results = Path.Combine(_dir, "results.jsonl");
        var (code, text, _) = Score(samples, data, results);
        Assert.Equal(0, code);
        Assert.Contains("pass@1 = 100.00% (5/5 tasks passed", text);

        // every completion replaced: nothing may be resumed, the old file is kept aside
        BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, _ => "    return None\n");
        (code, text, _) = Score(samples, data, results);
        Assert.Equal(0, code);
        Assert.Contains("pass@1 = 0.00% (0/5 tasks passed", text);
        Assert.Contains("0 resumed, 5 re-scored because their completion changed; previous results kept in ", text);
        var stale = Directory.GetFiles(_dir, "results.stale-*.jsonl");
        Assert.Single(stale);
        Assert.Equal(5, Rows(stale[0]).Count(r => (bool)r["passed"]!));                   // nothing written is lost
        Assert.Equal(5, Rows(results).Count);                                              // the new file: current rows only
        Assert.All(Rows(results), r => Assert.Equal(ScoreSettings.Sha256("    return None\n"), (string?)r["completion_sha256"]));

        // two restored: those two re-scored, three resumed
        BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => problems.IndexOf(p) < 2 ? p.CanonicalSolution : "    return None\n");
        (code, text, _) = Score(samples, data, results);
        Assert.Contains("pass@1 = 40.00% (2/5 tasks passed", text);
        Assert.Contains("3 resumed, 2 re-scored because their completion changed", text);

        // nothing changed: everything resumed, the file is appended to, not replaced
        (code, text, _) = Score(samples, data, results);
        Assert.Contains("pass@1 = 40.00%", text);
        Assert.Contains("5 resumed", text);
        Assert.DoesNotContain("re-scored", text);
        Assert.Equal(2, Directory.GetFiles(_dir, "results.stale-*.jsonl").Length);
        Assert.Equal(5, Rows(results).Count);
    }

    [Fact]
    public void AnotherTimeoutReScoresEverythingAndSaysWhichSettingChanged()
    {
        if (!TryHumanEval(3, out var data, out var problems)) return;
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => p.CanonicalSolution);
        var results = Path.Combine(_dir, "results.jsonl");
        Assert.Equal(0, Score(samples, data, results).Code);
        var (code, text, _) = Score(samples, data, results, "--timeout", "5");
        Assert.Equal(0, code);
        Assert.Contains("0 resumed, 3 re-scored because the settings changed (cpu_s 4 → 6, kill_after_s 13 → 15, timeout_s 3 → 5)", text);
        var summary = ResultsLog.ReadSummary(results)!;
        Assert.Equal(5.0, (double)summary["settings"]!["timeout_s"]!);
        Assert.All(Rows(results), r => Assert.Equal((string?)summary["settings_sha256"], (string?)r["settings_sha256"]));
    }

    [Fact]
    public void RowsWithoutFingerprintsAreReScored()
    {
        if (!TryHumanEval(2, out var data, out var problems)) return;
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, _ => "    return None\n");
        var results = Path.Combine(_dir, "results.jsonl");
        // rows as the scorer wrote them before they carried hashes, claiming passes
        File.WriteAllLines(results, problems.Select((p, i) =>
            $$"""{"type":"sample","key":"{{p.TaskId}}#0","task":"humaneval","line":{{i + 1}},"task_id":"{{p.TaskId}}","sample_index":0,"status":"passed","passed":true}"""));
        var (code, text, _) = Score(samples, data, results);
        Assert.Equal(0, code);
        Assert.Contains("pass@1 = 0.00%", text);
        Assert.Contains("2 re-scored because their old rows carry no fingerprint", text);
    }

    [Fact]
    public void ResultsNeverOverwriteTheSamplesFile()
    {
        if (!TryHumanEval(2, out var data, out var problems)) return;
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => p.CanonicalSolution);
        var before = File.ReadAllText(samples);
        var (code, _, err) = Score(samples, data, samples);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --out ", err);
        Assert.Contains("--force", err);
        Assert.Equal(before, File.ReadAllText(samples));
        // through another spelling of the same path
        (code, _, _) = Score(samples, data, Path.Combine(_dir, ".", "..", Path.GetFileName(_dir), "samples.jsonl"));
        Assert.Equal(1, code);
        Assert.Equal(before, File.ReadAllText(samples));
        Assert.Equal(0, Score(samples, data, samples, "--force").Code);
    }

    [Fact]
    public void ATimeoutIsItsOwnStatusInTheRowsAndTheSummary()
    {
        if (!TryHumanEval(3, out var data, out var problems)) return;
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems,
            p => p == problems[0] ? "    while True:\n        pass\n" : p == problems[1] ? "    return None\n" : p.CanonicalSolution);
        var results = Path.Combine(_dir, "results.jsonl");
        var (code, text, _) = Score(samples, data, results, "--timeout", "1");
        Assert.Equal(0, code);
        Assert.Contains("3 samples: 1 passed, 1 failed, 1 timed out, 0 errors", text);
        Assert.Contains("note: 1 samples timed out", text);
        var rows = Rows(results).ToDictionary(r => (string)r["task_id"]!);
        Assert.Equal("timed_out", (string?)rows[problems[0].TaskId]["status"]);
        Assert.Contains("program clock", (string?)rows[problems[0].TaskId]["message"]);
        Assert.Equal("failed", (string?)rows[problems[1].TaskId]["status"]);
        Assert.Equal("passed", (string?)rows[problems[2].TaskId]["status"]);
    }

    /// <summary>A tiny random checkpoint with the byte tokenizer (weights differ between calls).</summary>
    string TinyCheckpoint(string name)
    {
        var dir = Path.Combine(_dir, name);
        using var scope = TorchSharp.torch.NewDisposeScope();
        var model = new OpenDllm.Models.Qwen2Model(OpenDllm.Config.ModelConfig.Tiny with
        {
            VocabSize = ByteTokenizer.Instance.VocabSize, MaxPositionEmbeddings = 4096,
        });
        model.SavePretrained(dir);
        ByteTokenizer.Instance.Save(dir);
        return dir;
    }

    [Fact]
    public void AnotherCheckpointIntoTheSameFolderIsReScored()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var first = TinyCheckpoint("ckpt-a");
        var second = TinyCheckpoint("ckpt-b");
        var outDir = Path.Combine(_dir, "eval");
        string[] Args(string checkpoint) =>
            ["eval", "humaneval", "--checkpoint", checkpoint, "--data", data, "--out", outDir, "--limit", "2", "--max-new-tokens", "4", "--steps", "4"];

        var (code, _, _) = Run(Args(first));
        Assert.Equal(0, code);
        (code, var text, _) = Run(Args(second));
        Assert.Equal(0, code);
        Assert.Contains("0 resumed, 2 re-scored because the settings changed (generation.checkpoint_sha256 ", text);

        var resultsJson = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        var summary = ResultsLog.ReadSummary(Path.Combine(outDir, "results_completion.jsonl"))!;
        Assert.Equal((string?)resultsJson["checkpoint_sha256"], (string?)summary["settings"]!["generation"]!["checkpoint_sha256"]);
        Assert.Equal(0, (int)summary["resumed"]!);
        Assert.Single(Directory.GetFiles(outDir, "results_completion.stale-*.jsonl"));

        // the same checkpoint again: everything resumed
        (code, text, _) = Run(Args(second));
        Assert.Contains("2 resumed", text);
        Assert.DoesNotContain("re-scored", text);
    }

    [Fact]
    public void GenerationOutputIntoTheCheckpointFolderIsRefused()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var checkpoint = TinyCheckpoint("ckpt");
        var before = Directory.GetFiles(checkpoint).Order().ToArray();
        var (code, _, err) = Run("eval", "humaneval", "--checkpoint", checkpoint, "--data", data, "--out", checkpoint, "--limit", "1",
            "--max-new-tokens", "4", "--steps", "4");
        Assert.Equal(1, code);
        Assert.StartsWith("error: --out ", err);
        Assert.Equal(before, Directory.GetFiles(checkpoint).Order().ToArray());
    }
}
