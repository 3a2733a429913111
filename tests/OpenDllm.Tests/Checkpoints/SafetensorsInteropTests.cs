using System.Security.Cryptography;
using System.Text.Json;
using OpenDllm.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Checkpoints;

/// <summary>Files written by PyTorch's reference writer, read by ours (and one rewritten byte for byte).</summary>
public class SafetensorsInteropTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static string FixtureDir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "safetensors");

    [Fact]
    public void ReadsEveryDTypeWrittenByPyTorch()
    {
        using var scope = torch.NewDisposeScope();
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(FixtureDir, "all_dtypes.expected.json")));
        using var file = SafetensorsFile.Open(Path.Combine(FixtureDir, "all_dtypes.safetensors"));

        foreach (var item in expected.RootElement.GetProperty("metadata").EnumerateObject())
            Assert.Equal(item.Value.GetString(), file.Metadata[item.Name]);
        var tensors = expected.RootElement.GetProperty("tensors");
        Assert.Equal(tensors.EnumerateObject().Select(p => p.Name).Order(), file.Entries.Select(e => e.Name).Order());
        Assert.Equal(10, file.Entries.Select(e => e.DType).Distinct().Count());

        foreach (var spec in tensors.EnumerateObject())
        {
            var t = file.Read(spec.Name);
            var shape = spec.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            Assert.Equal(shape, t.shape);
            var hex = spec.Value.GetProperty("hex").GetString()!;
            Assert.Equal(hex, t.numel() == 0 ? "" : Convert.ToHexString(t.bytes).ToLowerInvariant());

            // Values, through TorchSharp's own conversion (independent of the raw bytes above).
            var values = spec.Value.GetProperty("values").EnumerateArray().ToArray();
            using var asDouble = t.to(ScalarType.Float64).reshape(-1);
            for (int i = 0; i < values.Length; i++)
            {
                double actual = asDouble[i].item<double>();
                if (values[i].ValueKind == JsonValueKind.String)
                {
                    var special = values[i].GetString();
                    Assert.True(special switch
                    {
                        "nan" => double.IsNaN(actual),
                        "inf" => double.IsPositiveInfinity(actual),
                        _ => double.IsNegativeInfinity(actual),
                    }, $"{spec.Name}[{i}] = {actual}, expected {special}");
                }
                else if (values[i].ValueKind is JsonValueKind.True or JsonValueKind.False)
                    Assert.Equal(values[i].GetBoolean() ? 1.0 : 0.0, actual);
                else if (t.dtype == ScalarType.Int64)
                    Assert.Equal(values[i].GetInt64(), t.reshape(-1)[i].item<long>());
                else
                    Assert.Equal(values[i].GetDouble(), actual);
            }
        }
    }

    [Fact]
    public void GoldenTinyModelFromSharedReference()
    {
        if (TestPaths.SharedDir is null)
        {
            // xunit v2 has no runtime skip: say so loudly and pass without checking anything.
            output.WriteLine("SKIPPED: ../shared is absent beside the repository; the golden tiny model was NOT checked.");
            return;
        }
        var dir = Path.Combine(TestPaths.SharedDir, "reference", "golden", "tiny");
        var path = Path.Combine(dir, "model.safetensors");
        using var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        Assert.Equal(golden.RootElement.GetProperty("model_safetensors_sha256").GetString(),
            Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant());

        using var scope = torch.NewDisposeScope();
        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(2 + 2 * 12, file.Entries.Count); // embed + norm + 12 per layer (tied head left out)
        Assert.Equal([300L, 64L], file.GetEntry("model.embed_tokens.weight").Shape);
        Assert.False(file.Contains("lm_head.weight"));

        // Independent check of one tensor: its bytes straight from the file, located by hand.
        var bytes = File.ReadAllBytes(path);
        long dataStart = 8 + (long)BitConverter.ToUInt64(bytes, 0);
        var norm = file.GetEntry("model.norm.weight");
        Assert.Equal(bytes.AsSpan((int)(dataStart + norm.Begin), (int)norm.ByteLength).ToArray(), file.Read(norm.Name).bytes.ToArray());

        // Our writer, given the same tensors and metadata, reproduces PyTorch's file byte for byte.
        using var dirOut = new TempDir();
        var copy = dirOut.File("model.safetensors");
        SafetensorsWriter.Save(copy, file.Entries.Select(e => (e.Name, file.Read(e.Name))), file.Metadata.ToDictionary());
        Assert.Equal(bytes, File.ReadAllBytes(copy));
    }
}
