using OpenDllm.IO;
using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>
/// Writes safetensors files. Layout follows the official library: header padded with spaces to a multiple of 8,
/// tensors ordered by decreasing element size and then by name (ordinal), so each starts aligned to its element
/// size. Tensor bytes are streamed from contiguous CPU copies, and the file is replaced atomically.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout) and optional string metadata to <paramref name="path"/>.
    /// The enumeration is consumed before the file is touched; a duplicate or reserved name throws
    /// <see cref="ArgumentException"/>, and any failure leaves an existing file at <paramref name="path"/> intact.
    /// </summary>
    public static void Save(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var items = Collect(tensors, path);
        items.Sort((a, b) =>
        {
            int bySize = b.DType.ElementSize().CompareTo(a.DType.ElementSize());
            return bySize != 0 ? bySize : string.CompareOrdinal(a.Name, b.Name);
        });
        var header = BuildHeader(items, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var item in items)
            {
                using var scope = torch.NewDisposeScope();
                var cpu = item.Tensor.detach().cpu().contiguous();
                TensorBytes.WriteTo(cpu, stream);
            }
        });
    }

    /// <summary>Bytes the tensor occupies in a file: numel × element size of its safetensors dtype.</summary>
    public static long ByteSize(Tensor tensor) => tensor.numel() * SafetensorsDTypes.FromScalarType(tensor.dtype).ElementSize();

    readonly record struct Item(string Name, Tensor Tensor, SafetensorsDType DType, long[] Shape, long Bytes);

    static List<Item> Collect(IEnumerable<(string Name, Tensor Tensor)> tensors, string path)
    {
        var items = new List<Item>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new ArgumentException($"{path}: a tensor has a null name", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"{path}: tensor '{name}' is null", nameof(tensors));
            if (name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"{path}: '{name}' is reserved for metadata and cannot name a tensor", nameof(tensors));
            if (!names.Add(name))
                throw new ArgumentException($"{path}: tensor '{name}' is given twice", nameof(tensors));
            SafetensorsDType dtype;
            try
            {
                dtype = SafetensorsDTypes.FromScalarType(tensor.dtype);
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"{path}: tensor '{name}': {e.Message}", e);
            }
            items.Add(new Item(name, tensor, dtype, tensor.shape, tensor.numel() * dtype.ElementSize()));
        }
        return items;
    }

    static byte[] BuildHeader(List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var item in items)
            {
                json.WriteStartObject(item.Name);
                json.WriteString("dtype", item.DType.ToHeaderString());
                json.WriteStartArray("shape");
                foreach (var d in item.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + item.Bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += item.Bytes;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8; // the data section starts 8-byte aligned
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
