using OpenDllm.Checkpoints;
using OpenDllm.Cli;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Cli;

public sealed class InspectCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-inspect-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("causal", "logits_causal")]
    [InlineData("bidirectional", "logits_bidirectional")]
    public void WritesLogitsThatMatchTheReference(string attention, string goldenName)
    {
        using var scope = NewDisposeScope();
        var model = Fixture.GoldenDir("tiny");
        using var golden = SafetensorsFile.Open(Path.Combine(model, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        var rows = Enumerable.Range(0, (int)ids.shape[0]).Select(r => ids[r].data<long>().ToArray()).ToArray();
        var input = Path.Combine(_dir, "ids.json");
        File.WriteAllText(input, System.Text.Json.JsonSerializer.Serialize(rows));
        var output = Path.Combine(_dir, "logits.safetensors");

        Assert.Equal(0, CliApp.Run(["inspect", model, "--input", input, "--attention", attention, "--out", output]));

        using var written = SafetensorsFile.Open(output);
        Assert.Equal(SafetensorsDType.F32, written.GetEntry("logits").DType);
        Fixture.AssertClose(golden.Read(goldenName), written.Read("logits"), 1e-5, attention);
    }

    [Fact]
    public void BadInputsExitWithOneAndWriteNothing()
    {
        var model = Fixture.GoldenDir("tiny");
        var output = Path.Combine(_dir, "logits.safetensors");
        var ragged = Path.Combine(_dir, "ragged.json");
        File.WriteAllText(ragged, "[[1, 2], [3]]");
        var outOfVocab = Path.Combine(_dir, "oov.json");
        File.WriteAllText(outOfVocab, "[[1, 300]]");
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", ragged, "--out", output]));
        Assert.Equal(1, CliApp.Run(["inspect", model, "--input", outOfVocab, "--out", output]));
        Assert.Equal(1, CliApp.Run(["inspect", Path.Combine(_dir, "missing-model")]));
        Assert.False(File.Exists(output));
    }
}
