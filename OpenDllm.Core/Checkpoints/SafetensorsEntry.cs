namespace OpenDllm.Checkpoints;

/// <summary>
/// One tensor described by a safetensors header. <see cref="Begin"/> and <see cref="End"/> are byte offsets
/// relative to the first byte after the header (the data section), as in the header's <c>"data_offsets"</c>.
/// </summary>
/// <param name="Name">The tensor's key in the header.</param>
/// <param name="DType">Its element type.</param>
/// <param name="Shape">Its dimensions; empty for a 0-d scalar.</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte, relative to the data section.</param>
public sealed record SafetensorsEntry(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes, <c>End − Begin</c> (= element count × element size once validated).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Product of <see cref="Shape"/> (1 for a 0-d scalar, 0 when any dimension is 0).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n = checked(n * d);
            return n;
        }
    }

    /// <summary>The shape as text, e.g. <c>[2, 3]</c>, for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[d0, d1, …]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
