using System.Text.Json.Nodes;
using OpenDllm.Tests.Cli;

namespace OpenDllm.Tests.Evaluation;

/// <summary>`opendllm eval humaneval-plus|mbpp-plus --checkpoint`: generates with the HumanEval or MBPP prompt format and
/// scores through the EvalPlus program with EvalPlus's program clock (191 s) unless --timeout is given; a missing data file
/// is one line naming where it was expected and where to get it.</summary>
[Collection("Console")]
public sealed class EvalPlusRunTests(TinyCheckpoint checkpoint) : IClassFixture<TinyCheckpoint>, IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-evalplus-run-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    (int Code, string Out, string Err) Eval(string task, string data, string output, params string[] extra) =>
        CliCapture.Run(["eval", task, "--checkpoint", checkpoint.Path, "--data", data, "--out", output, .. extra]);

    [Fact]
    public void GeneratesAndScoresHumanEvalPlus()
    {
        var output = Path.Combine(_dir, "out");
        var (code, text, err) = Eval("humaneval-plus", EvalPlusFixtureData.Create(_dir), output, "--max-new-tokens", "8", "--steps", "2");
        Assert.True(code == 0, text + err);
        Assert.Contains("humaneval-plus: pass@1 = ", text);
        Assert.Contains("timeout 191 s", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal("humaneval-plus", (string?)results["task"]);
        Assert.Equal("humaneval", (string?)results["prompt_format"]);
        Assert.Equal(3, (int)results["problems"]!);
        Assert.Equal(191.0, (double)results["results"]![0]!["timeout_s"]!);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "samples_completion.jsonl")).Length);
    }

    /// <summary>MBPP+ end to end with the anchors' preset, two samples per task and a ragged batch of both tasks.</summary>
    [Fact]
    public void GeneratesAndScoresMbppPlusWithAPresetAndABatch()
    {
        var output = Path.Combine(_dir, "out");
        var (code, text, err) = Eval("mbpp-plus", EvalPlusFixtureData.Create(_dir), output,
            "--preset", "open-dllm-completion", "--samples", "2", "--k", "1,2", "--max-new-tokens", "8", "--steps", "2", "--batch-size", "2");
        Assert.True(code == 0, text + err);
        Assert.Contains("preset: open-dllm-completion", text);
        Assert.Contains("mbpp-plus: pass@1 = ", text);
        Assert.Contains("timeout 191 s", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal("mbpp-plus", (string?)results["task"]);
        Assert.StartsWith("mbpp (text and first three asserts of sanitized-mbpp.json", (string?)results["prompt_format"]);
        Assert.Equal("open-dllm-completion", (string?)results["preset"]);
        Assert.Equal("p2", (string?)results["sampler"]);
        Assert.Equal(200, (int)results["top_k"]!);
        Assert.Equal(2, (int)results["batch_size"]!);
        Assert.Equal((2, 2), ((int)results["problems"]!, (int)results["samples_per_task"]!));
        var row = results["results"]![0]!;
        Assert.Equal(191.0, (double)row["timeout_s"]!);
        Assert.Equal(4, (int)row["samples_scored"]!);
        Assert.NotNull(row["pass_at_k"]!["2"]);
        Assert.Equal(2 * 2 * 8, (long)row["generated_tokens"]!);
        var ids = File.ReadAllLines(Path.Combine(output, "samples_completion.jsonl")).Select(l => (string)JsonNode.Parse(l)!["task_id"]!);
        Assert.Equal(["Mbpp/2", "Mbpp/2", "Mbpp/787", "Mbpp/787"], ids);
    }

    [Fact]
    public void MissingDataFilesAreOneLineNamingWhereToGetThem()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var (code, _, err) = Eval("mbpp-plus", empty, Path.Combine(_dir, "out"));
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.StartsWith("error: " + Path.Combine(empty, "evalplus", "MbppPlus.jsonl.gz") + ": benchmark file for 'mbpp-plus' not found", err);
        Assert.Contains("https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz", err);

        var noSanitized = EvalPlusFixtureData.Create(Path.Combine(_dir, "bare"), sanitizedMbpp: false);
        (code, _, err) = Eval("mbpp-plus", noSanitized, Path.Combine(_dir, "out"));
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains(Path.Combine(noSanitized, "mbpp", "sanitized-mbpp.json"), err);
        Assert.Contains("mbpp-plus generation prompts with each task's text and tests from it", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));                                   // refused before any work
    }
}
