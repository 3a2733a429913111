using OpenDllm.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Checkpoints;

public class SafetensorsRoundTripTests
{
    static readonly ScalarType[] AllTypes =
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    /// <summary>A tensor whose bytes are random (NaN payloads and subnormals included); bools are 0/1.</summary>
    internal static Tensor RandomTensor(ScalarType dtype, long[] shape, Random random)
    {
        var t = torch.empty(shape, dtype);
        if (t.numel() == 0) return t;
        var raw = new byte[t.numel() * t.element_size()];
        random.NextBytes(raw);
        if (dtype == ScalarType.Bool)
            for (int i = 0; i < raw.Length; i++) raw[i] &= 1;
        t.bytes = raw;
        return t;
    }

    [Fact]
    public void EveryDTypeRoundTripsBitExactly_IncludingScalarsAndEmpty()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var random = new Random(1234);
        var tensors = new List<(string, Tensor)>();
        foreach (var dtype in AllTypes)
        {
            tensors.Add(($"{dtype}.matrix", RandomTensor(dtype, [3, 5], random)));
            tensors.Add(($"{dtype}.scalar", RandomTensor(dtype, [], random)));
            tensors.Add(($"{dtype}.empty", RandomTensor(dtype, [0, 4], random)));
        }
        var path = dir.File("all.safetensors");
        SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("héllo \"quoted\"", file.Metadata["note"]);
        Assert.Equal(tensors.Count, file.Entries.Count);
        foreach (var (name, expected) in tensors)
        {
            var entry = file.GetEntry(name);
            Assert.Equal(SafetensorsDTypes.FromScalarType(expected.dtype), entry.DType);
            Assert.Equal(0, entry.Begin % entry.DType.ElementSize());
            var actual = file.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            if (expected.numel() > 0) Assert.Equal(expected.bytes.ToArray(), actual.bytes.ToArray());
        }
    }

    [Fact]
    public void LayoutIsAlignedAndOrderedBySizeThenName()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("order.safetensors");
        SafetensorsWriter.Save(path,
        [
            ("b", torch.ones(3, dtype: ScalarType.Int8)),
            ("a", torch.ones(1, dtype: ScalarType.Float16)),
            ("c", torch.ones(2, dtype: ScalarType.Float64)),
            ("a2", torch.ones(1, dtype: ScalarType.Float64)),
        ]);
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0UL, headerLength % 8);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a2", "c", "a", "b"], file.Entries.Select(e => e.Name));
        Assert.Equal(bytes.LongLength - 8 - (long)headerLength, file.Entries[^1].End);
    }

    [Fact]
    public void ReadConvertsDTypeAndReadIntoFillsAParameter()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("convert.safetensors");
        var values = torch.tensor(new float[] { 1.5f, -2.25f, 3f, 0.125f }).reshape(2, 2);
        SafetensorsWriter.Save(path, [("w", values.to(ScalarType.BFloat16))]);
        using var file = SafetensorsFile.Open(path);

        Assert.True(file.Read("w", ScalarType.Float32).eq(values).all().item<bool>());
        var parameter = new TorchSharp.Modules.Parameter(torch.zeros(2, 2));
        file.ReadInto("w", parameter);
        Assert.True(parameter.eq(values).all().item<bool>());
        Assert.True(parameter.requires_grad);

        var wrong = torch.zeros(4);
        var e = Assert.Throws<InvalidDataException>(() => file.ReadInto("w", wrong));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Throws<KeyNotFoundException>(() => file.Read("missing"));
    }

    [Fact]
    public void SavingDuplicateNamesThrows()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Save(dir.File("dup.safetensors"), [("x", torch.ones(1)), ("x", torch.zeros(1))]));
        Assert.Contains("'x'", e.Message);
        Assert.False(File.Exists(dir.File("dup.safetensors")));
    }

    [Fact]
    public void AFailingSaveLeavesThePreviousFileIntact()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        SafetensorsWriter.Save(path, [("x", torch.arange(4, dtype: ScalarType.Float32))]);
        var before = File.ReadAllBytes(path);

        static IEnumerable<(string, Tensor)> Throwing()
        {
            yield return ("x", torch.zeros(4));
            throw new InvalidOperationException("boom");
        }
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Save(path, Throwing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }
}
