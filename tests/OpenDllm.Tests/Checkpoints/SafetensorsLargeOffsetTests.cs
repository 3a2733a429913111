using System.Text;
using OpenDllm.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Checkpoints;

/// <summary>Offsets past 2^31: a sparse ~2.5 GB file (cheap on ext4) with a small tensor placed beyond 2 GiB.</summary>
public class SafetensorsLargeOffsetTests
{
    [Fact]
    public void ReadsATensorPlacedPastTwoGiB()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("sparse.safetensors");
        const long begin = (1L << 31) + 4096 + 8; // past int.MaxValue, F32-aligned
        const long end = begin + 4 * 4;
        var json = Encoding.UTF8.GetBytes(
            $"{{\"far\":{{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[{begin},{end}]}}," +
            $"\"near\":{{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}}}".PadRight(160));
        long dataStart = 8 + json.Length;
        var expected = torch.tensor(new[] { 1.5f, -2f, 1e-30f, float.MaxValue }).reshape(2, 2);

        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            stream.SetLength(dataStart + (long)(2.5 * (1L << 30))); // sparse: no blocks allocated
            stream.Write(BitConverter.GetBytes((ulong)json.Length));
            stream.Write(json);
            stream.Write(BitConverter.GetBytes(42L));
            stream.Position = dataStart + begin;
            stream.Write(expected.bytes);
        }
        Assert.True(new FileInfo(path).Length > (1L << 31) + (1L << 29));

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(begin, file.GetEntry("far").Begin);
        var far = file.Read("far");
        Assert.Equal(expected.bytes.ToArray(), far.bytes.ToArray());
        Assert.Equal(42L, file.Read("near").item<long>());

        var destination = torch.zeros(2, 2, dtype: ScalarType.Float64);
        file.ReadInto("far", destination);
        Assert.True(destination.eq(expected.to(ScalarType.Float64)).all().item<bool>());
    }
}
