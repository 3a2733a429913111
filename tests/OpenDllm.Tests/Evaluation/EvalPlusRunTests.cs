using System.IO.Compression;
using System.Text.Json.Nodes;
using OpenDllm.Tests.Cli;

namespace OpenDllm.Tests.Evaluation;

/// <summary>`opendllm eval humaneval-plus --checkpoint`: generates with the HumanEval prompt format and scores through the
/// EvalPlus program with EvalPlus's program clock (191 s) unless --timeout is given.</summary>
[Collection("Console")]
public sealed class EvalPlusRunTests(TinyCheckpoint checkpoint) : IClassFixture<TinyCheckpoint>, IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-evalplus-run-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void GeneratesAndScoresHumanEvalPlus()
    {
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(Path.Combine(data, "evalplus"));
        using (var target = File.Create(Path.Combine(data, "evalplus", "HumanEvalPlus.jsonl.gz")))
        using (var gzip = new GZipStream(target, CompressionLevel.Fastest))
        using (var source = File.OpenRead(Fixture.PathOf("evalplus", "HumanEvalPlus.jsonl")))
            source.CopyTo(gzip);
        var output = Path.Combine(_dir, "out");
        var (code, text, err) = CliCapture.Run("eval", "humaneval-plus", "--checkpoint", checkpoint.Path, "--data", data, "--out", output,
            "--max-new-tokens", "8", "--steps", "2");
        Assert.True(code == 0, text + err);
        Assert.Contains("humaneval-plus: pass@1 = ", text);
        Assert.Contains("timeout 191 s", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal("humaneval-plus", (string?)results["task"]);
        Assert.Equal(3, (int)results["problems"]!);
        Assert.Equal(191.0, (double)results["results"]![0]!["timeout_s"]!);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "samples_completion.jsonl")).Length);
    }
}
