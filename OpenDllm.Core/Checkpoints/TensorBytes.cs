using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>
/// Raw access to the bytes of a contiguous CPU tensor, a slice at a time. <see cref="Tensor.bytes"/> is a
/// <see cref="Span{T}"/> and so stops at 2 GiB; walking 1-d slices of at most <see cref="ChunkBytes"/> lifts that limit.
/// </summary>
internal static class TensorBytes
{
    /// <summary>Largest slice handed to a callback (64 MiB).</summary>
    public const long ChunkBytes = 64L << 20;

    /// <summary>Called with one slice of tensor memory and its byte offset from the tensor's start.</summary>
    public delegate void ChunkAction(Span<byte> chunk, long offset);

    /// <summary>Visits the tensor's memory in order, in slices of at most <see cref="ChunkBytes"/>.</summary>
    /// <param name="tensor">A contiguous CPU tensor; the slices alias its memory, so writes land in it.</param>
    /// <param name="action">Receives each slice.</param>
    public static void ForEachChunk(Tensor tensor, ChunkAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("expected a contiguous CPU tensor", nameof(tensor));
        long count = tensor.numel();
        if (count == 0) return;
        long elementSize = tensor.element_size();
        long perChunk = Math.Max(1, ChunkBytes / elementSize);
        using var flat = tensor.view(-1);
        for (long start = 0; start < count; start += perChunk)
        {
            long n = Math.Min(perChunk, count - start);
            using var slice = flat.narrow(0, start, n);
            action(slice.bytes, start * elementSize);
        }
    }

    /// <summary>Copies <c>numel × element_size</c> bytes from <paramref name="source"/> into the tensor's memory.</summary>
    public static unsafe void CopyFrom(Tensor destination, byte* source)
    {
        var start = (IntPtr)source;
        ForEachChunk(destination, (chunk, offset) => new ReadOnlySpan<byte>((byte*)start + offset, chunk.Length).CopyTo(chunk));
    }

    /// <summary>Writes the tensor's bytes to <paramref name="stream"/>.</summary>
    public static void WriteTo(Tensor source, Stream stream)
    {
        ForEachChunk(source, (chunk, _) => stream.Write(chunk));
    }
}
