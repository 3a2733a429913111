using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Checkpoints;

namespace OpenDllm.Tests.Checkpoints;

/// <summary>
/// <see cref="SafetensorsHeader.Parse"/> on arbitrary bytes and on mutated valid headers: it either returns
/// internally consistent entries or throws <see cref="InvalidDataException"/>, never anything else.
/// </summary>
public class SafetensorsHeaderFuzzTests
{
    public sealed record FuzzInput(byte[] Json, long DataLength)
    {
        public override string ToString() => $"{Encoding.UTF8.GetString(Json)} (data {DataLength})";
    }

    static bool ParsesConsistentlyOrRejects(FuzzInput input)
    {
        SafetensorsHeader header;
        try
        {
            header = SafetensorsHeader.Parse(input.Json, input.DataLength, "fuzz.safetensors");
        }
        catch (InvalidDataException e)
        {
            return e.Message.StartsWith("fuzz.safetensors: ", StringComparison.Ordinal);
        }
        long previousEnd = 0, previousBegin = 0;
        foreach (var e in header.Entries)
        {
            if (e.Begin < previousBegin || e.Begin > e.End || e.End > input.DataLength) return false;
            if (e.ByteLength != e.ElementCount * e.DType.ElementSize()) return false;
            if (e.ByteLength > 0)
            {
                if (e.Begin < previousEnd) return false;
                previousEnd = e.End;
            }
            previousBegin = e.Begin;
            if (!header.TryGetEntry(e.Name, out var found) || !ReferenceEquals(found, e)) return false;
        }
        return header.Entries.Select(e => e.Name).Distinct().Count() == header.Entries.Count
            && !header.Entries.Any(e => e.Name == SafetensorsHeader.MetadataKey);
    }

    static readonly string[] DTypeNames = Enum.GetNames<SafetensorsDType>();

    /// <summary>A valid header: 0–4 tensors laid out back to back, optional metadata; returns JSON and data length.</summary>
    static Gen<(string Json, long DataLength)> ValidHeader() =>
        from count in Gen.Choose(0, 4)
        from specs in Gen.ArrayOf(
            from dtype in Gen.Elements(DTypeNames)
            from rank in Gen.Choose(0, 3)
            from dims in Gen.ArrayOf(Gen.Choose(0, 5), rank)
            select (dtype, dims), count)
        from withMetadata in Gen.Elements(true, false)
        select Render(specs, withMetadata);

    static (string, long) Render((string DType, int[] Dims)[] specs, bool withMetadata)
    {
        var parts = new List<string>();
        if (withMetadata) parts.Add("\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"}");
        long offset = 0;
        for (int i = 0; i < specs.Length; i++)
        {
            var (dtype, dims) = specs[i];
            long bytes = SafetensorsDTypes.Parse(dtype).ElementSize() * dims.Aggregate(1L, (a, d) => a * d);
            parts.Add($"\"t{i}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", dims)}],\"data_offsets\":[{offset},{offset + bytes}]}}");
            offset += bytes;
        }
        return ("{" + string.Join(",", parts) + "}", offset);
    }

    static readonly byte[] Interesting = Encoding.ASCII.GetBytes("{}[]\":,-.0123456789eE \\u_\u007f");

    /// <summary>One edit: overwrite, insert or delete a byte (favouring JSON punctuation and digits).</summary>
    static Gen<Func<List<byte>, List<byte>>> Mutation() =>
        from kind in Gen.Choose(0, 2)
        from position in Gen.Choose(0, int.MaxValue)
        from useInteresting in Gen.Elements(true, false)
        from randomByte in Gen.Choose(0, 255)
        from pick in Gen.Choose(0, Interesting.Length - 1)
        select (Func<List<byte>, List<byte>>)(bytes =>
        {
            var b = useInteresting ? Interesting[pick] : (byte)randomByte;
            var copy = new List<byte>(bytes);
            int at = copy.Count == 0 ? 0 : position % copy.Count;
            if (kind == 0 && copy.Count > 0) copy[at] = b;
            else if (kind == 1) copy.Insert(at, b);
            else if (copy.Count > 0) copy.RemoveAt(at);
            return copy;
        });

    static Gen<FuzzInput> MutatedHeader() =>
        from valid in ValidHeader()
        from n in Gen.Choose(0, 4)
        from mutations in Gen.ArrayOf(Mutation(), n)
        from slack in Gen.Choose(-3, 3)
        select new FuzzInput(
            mutations.Aggregate(Encoding.UTF8.GetBytes(valid.Json).ToList(), (bytes, m) => m(bytes)).ToArray(),
            Math.Max(0, valid.DataLength + slack));

    [Fact]
    public void InvalidUtf8InANameIsInvalidData()
    {
        byte[] json = [(byte)'{', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)':', (byte)'{', (byte)'}', (byte)'}'];
        Assert.Throws<InvalidDataException>(() => SafetensorsHeader.Parse(json, 0, "utf8.safetensors"));
    }

    [Property(MaxTest = 300)]
    public bool RandomBytesParseOrFailCleanly(byte[] json, NonNegativeInt dataLength) =>
        ParsesConsistentlyOrRejects(new FuzzInput(json, dataLength.Get));

    [Property(MaxTest = 2000)]
    public Property MutatedValidHeadersParseOrFailCleanly() =>
        Prop.ForAll(MutatedHeader().ToArbitrary(), ParsesConsistentlyOrRejects);

    [Property(MaxTest = 200)]
    public Property UnmutatedValidHeadersParse() =>
        Prop.ForAll(ValidHeader().ToArbitrary(), valid =>
            SafetensorsHeader.Parse(Encoding.UTF8.GetBytes(valid.Json), valid.DataLength, "ok.safetensors").Entries.Count
                == valid.Json.Split("\"dtype\"").Length - 1);
}
