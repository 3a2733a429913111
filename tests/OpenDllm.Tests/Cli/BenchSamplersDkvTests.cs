using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Cli;

/// <summary>`opendllm bench samplers` with the dKV-Cache rows: one per refresh interval, the uncached reference row added,
/// token match against it, and what the tokens/s count. In the Console collection: the bench prints to stdout.</summary>
[Collection("Console")]
public sealed class BenchSamplersDkvTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-bench-dkv-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void DkvRowsComeOnePerIntervalAfterTheUncachedReference()
    {
        var output = Path.Combine(_dir, "bench.jsonl");
        Assert.Equal(0, CliApp.Run(["bench", "samplers", "--threads", TorchTestDefaults.Threads.ToString(), "--out", output,
                                    "--samplers", "fast-dllm-dkv", "--length", "8", "--block-length", "4", "--refresh-intervals", "1,3"]));
        var rows = File.ReadAllLines(output).Select(line => Assert.IsType<JsonObject>(JsonNode.Parse(line)))
            .Where(r => (string)r["bench"]! == "sampler").ToList();
        Assert.Equal(["fast-dllm-nocache", "fast-dllm-dkv", "fast-dllm-dkv"], rows.Select(r => (string)r["sampler"]!));
        Assert.Equal([1, 3], rows.Skip(1).Select(r => (int)r["refresh_interval"]!));
        Assert.All(rows, r => Assert.Equal("generated", (string)r["counted"]!));
        Assert.Equal(1.0, (double)rows[0]["token_match_vs_nocache"]!);
        Assert.Equal(1.0, (double)rows[1]["token_match_vs_nocache"]!);                 // refresh every step = uncached
        Assert.InRange((double)rows[2]["token_match_vs_nocache"]!, 0.0, 1.0);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("2,x")]
    [InlineData(",")]
    public void BadRefreshIntervalsAreRefused(string intervals) =>
        Assert.Equal(1, CliApp.Run(["bench", "samplers", "--threads", TorchTestDefaults.Threads.ToString(), "--out", Path.Combine(_dir, "bad.jsonl"),
                                    "--samplers", "fast-dllm-dkv", "--length", "8", "--refresh-intervals", intervals]));
}
