using System.Text.Json.Nodes;
using OpenDllm.Evaluation;
using OpenDllm.Tests.Cli;

namespace OpenDllm.Tests.Evaluation;

/// <summary>`opendllm eval santacoder-fim --checkpoint`: generates every Python row at the oracle or fixed lengths, writes
/// samples the official scorer reads and a results.json whose exact match is the samples file's.</summary>
[Collection("Console")]
public sealed class SantaCoderFimRunTests(TinyCheckpoint checkpoint) : IClassFixture<TinyCheckpoint>, IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-santafim-run-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void GeneratesScoresAndRecordsEveryLength()
    {
        var data = Fixture.PathOf("santacoder-fim", "fim-task.jsonl");
        var output = Path.Combine(_dir, "out");
        var (code, text, err) = CliCapture.Run("eval", "santacoder-fim", "--checkpoint", checkpoint.Path, "--data", data, "--out", output,
            "--lengths", "3,5", "--steps", "2", "--seed", "4");
        Assert.True(code == 0, text + err);
        Assert.Contains("3 Python rows; the released data set has 1043", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "results.json")))!;
        Assert.Equal("3,5", (string?)results["infill_length"]);
        Assert.Equal(2, (int)results["steps"]!);
        Assert.Equal(4, (long)results["seed"]!);
        foreach (var (row, length) in results["results"]!.AsArray().Zip(new[] { 3, 5 }))
        {
            Assert.Equal($"len{length}", (string?)row!["length"]);
            var samples = Path.Combine(output, (string)row["samples"]!);
            var lines = File.ReadAllLines(samples);
            Assert.Equal([0, 1, 2], lines.Select(l => (int)JsonNode.Parse(l)!["task_id"]!));
            Assert.Equal(SantaCoderFim.Load(data).Select(p => p.CanonicalSolution), lines.Select(l => (string)JsonNode.Parse(l)!["ground_truth_middle"]!));
            var rescored = SantaCoderFimEvaluation.ScoreSamples(samples);
            Assert.Equal((3, rescored.Matches), ((int)row["count"]!, (int)row["exact_matches"]!));
            Assert.Equal(rescored.ExactMatch, (double)row["exact_match"]!, 12);
        }
        var again = CliCapture.Run("eval", "santacoder-fim", "--checkpoint", checkpoint.Path, "--data", data, "--out", Path.Combine(_dir, "again"),
            "--lengths", "3,5", "--steps", "2", "--seed", "4");
        Assert.Equal(File.ReadAllText(Path.Combine(output, "samples_len5.jsonl")), File.ReadAllText(Path.Combine(_dir, "again", "samples_len5.jsonl")));
        Assert.Equal(0, again.Code);
    }
}
