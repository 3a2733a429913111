using OpenDllm.Cli;
using OpenDllm.Data;

namespace OpenDllm.Tests.Data;

public sealed class PrepareCommandTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void PreparesAFolderAndTheShardsOpen()
    {
        for (int i = 0; i < 8; i++) _temp.Write($"src/m{i}.py", $"def f{i}():\n    return {i}\n");
        _temp.Write("src/readme.md", "not selected");
        var output = _temp.Combine("shards");

        Assert.Equal(0, CliApp.Run(["prepare", "--source", "folder", "--path", _temp.Combine("src"), "--glob", "**/*.py",
                                    "--out", output, "--val-fraction", "0.25", "--seed", "1", "--shard-tokens", "40"]));

        using var set = TokenShardSet.Open(output);
        Assert.Equal(8, set.Train.DocumentCount + set.Validation.DocumentCount);
        Assert.True(set.Validation.DocumentCount > 0);
        Assert.Equal(0.25, set.Manifest.Settings.ValidationFraction);
        Assert.Contains("**/*.py", set.Manifest.Source);
    }

    [Fact]
    public void BadInputExitsWithOneAndKeepsTheExistingOutput()
    {
        var jsonl = _temp.Write("data.jsonl", "{\"text\": \"hello\"}\n{\"text\": \"world\"}\n");
        var output = _temp.Combine("shards");
        Assert.Equal(0, CliApp.Run(["prepare", "--source", "jsonl", "--path", jsonl, "--out", output]));
        var manifest = File.ReadAllText(Path.Combine(output, ShardManifest.FileName));

        Assert.Equal(1, CliApp.Run(["prepare", "--source", "jsonl", "--path", jsonl, "--field", "content", "--out", output]));   // missing field
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "parquet", "--path", _temp.Combine("none.parquet"), "--out", output]));   // missing file
        Directory.CreateDirectory(_temp.Combine("empty"));
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "folder", "--path", _temp.Combine("empty"), "--out", output]));   // empty corpus
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "folder", "--out", output]));   // no --path
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "jsonl", "--path", jsonl, "--out", output, "--val-fraction", "1.5"]));

        Assert.Equal(manifest, File.ReadAllText(Path.Combine(output, ShardManifest.FileName)));
        using var set = TokenShardSet.Open(output);
        Assert.Equal(2, set.Train.DocumentCount + set.Validation.DocumentCount);
    }
}
