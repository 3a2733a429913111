using System.Text;
using OpenDllm.Checkpoints;
using TorchSharp;

namespace OpenDllm.Tests.Checkpoints;

/// <summary>Every malformed input raises an exception whose message names the file (and the tensor at fault).</summary>
public class SafetensorsErrorTests
{
    /// <summary>Writes an 8-byte length, <paramref name="header"/> and <paramref name="dataLength"/> zero bytes.</summary>
    internal static void WriteRaw(string path, string header, int dataLength, ulong? declaredLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(declaredLength ?? (ulong)json.Length));
        stream.Write(json);
        stream.Write(new byte[dataLength]);
    }

    static InvalidDataException OpenFails(string path) => Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path).Dispose());

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void FileShorterThanEightBytes(int length)
    {
        using var dir = new TempDir();
        var path = dir.File("short.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        var e = OpenFails(path);
        Assert.Contains(path, e.Message);
        Assert.Contains($"{length} bytes", e.Message);
    }

    [Theory]
    [InlineData(1000UL)]
    [InlineData(ulong.MaxValue)]
    public void HeaderLengthPastTheEndOfTheFile(ulong declared)
    {
        using var dir = new TempDir();
        var path = dir.File("long.safetensors");
        WriteRaw(path, "{}", 0, declared);
        var e = OpenFails(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("past the end", e.Message);
    }

    public static TheoryData<string, int, string?, string> BadHeaders => new()
    {
        { "{not json", 0, null, "not valid JSON" },
        { "[1, 2]", 0, null, "must be a JSON object" },
        { """{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}""", 1, "w", "unknown dtype 'F8'" },
        { """{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "w", "non-negative integers" },
        { """{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4, "w", "non-negative integers" },
        { """{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}""", 4, "w", "must have 2 elements" },
        { """{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, "w", "begin > end" },
        { """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 8, "w", "needs 8" },
        { """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "w", "past the data section" },
        { """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "b", "overlap tensor 'a'" },
        { """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}""", 4, "w", "overflows" },
        { """{"__metadata__":{"n":1}}""", 0, null, "must be a string" },
        { """{"__metadata__":[]}""", 0, null, "must be an object of strings" },
        { """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2, "w", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void MalformedHeaderNamesFileAndTensor(string header, int dataLength, string? tensor, string fragment)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        WriteRaw(path, header, dataLength);
        var e = OpenFails(path);
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
        if (tensor is not null) Assert.Contains($"tensor '{tensor}'", e.Message);
    }

    [Fact]
    public void TruncatedDataIsReportedWithTheTensor()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("cut.safetensors");
        SafetensorsWriter.Save(path, [("a", torch.ones(4)), ("b", torch.ones(4, dtype: torch.float64))]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var e = OpenFails(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor 'a'", e.Message); // F32 'a' comes after F64 'b', so it is the one cut
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void MissingShardNamesIndexAndShard()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        SafetensorsWriter.Save(dir.File("model-00001-of-00002.safetensors"), [("a", torch.ones(2))]);
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName),
            """{"metadata":{"total_size":16},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
        Assert.Contains(dir.File(SafetensorsCheckpoint.IndexFileName), e.Message);
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
    }

    [Fact]
    public void TensorMissingFromItsShard()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        SafetensorsWriter.Save(dir.File("model-00001-of-00001.safetensors"), [("a", torch.ones(2))]);
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName),
            """{"weight_map":{"a":"model-00001-of-00001.safetensors","ghost":"model-00001-of-00001.safetensors"}}""");
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
        Assert.Contains("'ghost'", e.Message);
        Assert.Contains("model-00001-of-00001.safetensors", e.Message);
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, e.Message);
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("/etc/passwd")]
    public void ShardOutsideTheFolderIsRejected(string shard)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), "{\"weight_map\":{\"a\":\"" + shard + "\"}}");
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void EmptyFolderSaysWhatItLookedFor()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
        Assert.Contains(SafetensorsCheckpoint.SingleFileName, e.Message);
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, e.Message);
    }
}
