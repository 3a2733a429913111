using System.Text.Json.Nodes;
using OpenDllm.Cli;

namespace OpenDllm.Tests.Cli;

/// <summary>Every throughput `opendllm bench` prints says which tokens it counts; generation benches count generated tokens
/// only, never the prompt (the mistake of Fast-dLLM#12, #15). In the Console collection: the bench prints to stdout.</summary>
[Collection("Console")]
public sealed class BenchCountedTokensTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-bench-counted-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void SamplerRowsCountGeneratedTokensOnly()
    {
        var output = Path.Combine(_dir, "bench.jsonl");
        Assert.Equal(0, CliApp.Run(["bench", "samplers", "--threads", TorchTestDefaults.Threads.ToString(), "--out", output,
                                    "--length", "4", "--block-length", "2", "--samplers", "maskgit_plus,fast-dllm-dual,ar"]));
        var rows = File.ReadAllLines(output).Select(line => Assert.IsType<JsonObject>(JsonNode.Parse(line)))
            .Where(row => row.ContainsKey("tokens_per_s")).ToList();
        Assert.Equal(4, rows.Count);   // a Fast-dLLM row brings its uncached reference row for token_match_vs_nocache
        foreach (var row in rows)
        {
            Assert.Equal("generated", (string?)row["counted"]);
            // tokens_per_s = gen_len / median time: the 32 prompt tokens are not in the numerator
            Assert.Equal(4 / (double)row["median_s"]!, (double)row["tokens_per_s"]!, 6);
        }
    }
}
