using System.Text.Json;

namespace OpenDllm.Checkpoints;

/// <summary>
/// The validated JSON header of a safetensors file: its tensors (in data order) and its <c>__metadata__</c>.
/// Format: <see href="https://github.com/huggingface/safetensors#format"/> — an 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON <c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}</c>,
/// then the data section.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>The key of the optional string→string metadata object.</summary>
    public const string MetadataKey = "__metadata__";

    readonly Dictionary<string, SafetensorsEntry> _byName;

    SafetensorsHeader(List<SafetensorsEntry> entries, Dictionary<string, string> metadata, long dataLength)
    {
        Entries = entries;
        Metadata = metadata;
        DataLength = dataLength;
        _byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>Tensors ordered by their position in the data section.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> object, empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Length of the data section the offsets were checked against.</summary>
    public long DataLength { get; }

    /// <summary>Finds a tensor by name.</summary>
    public bool TryGetEntry(string name, out SafetensorsEntry entry) => _byName.TryGetValue(name, out entry!);

    /// <summary>
    /// Parses and validates a header. Pure: it reads only <paramref name="json"/>, allocates nothing sized by the
    /// header's numbers, and reports every defect as an <see cref="InvalidDataException"/> whose message names
    /// <paramref name="path"/> and, where one is at fault, the tensor.
    /// </summary>
    /// <param name="json">The header bytes (UTF-8 JSON, possibly padded with trailing spaces).</param>
    /// <param name="dataLength">Bytes available after the header; every tensor must end within them.</param>
    /// <param name="path">The file the header came from, for messages.</param>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength, string path)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dataLength);
        try
        {
            return ParseCore(json, dataLength, path);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json raises this when a string holds bytes that are not UTF-8.
            throw Invalid(path, null, $"header text is not valid UTF-8: {e.Message}", e);
        }
    }

    static SafetensorsHeader ParseCore(ReadOnlySpan<byte> json, long dataLength, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Invalid(path, null, $"header is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid(path, null, $"header must be a JSON object, found {root.ValueKind}");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<SafetensorsEntry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw Invalid(path, property.Name, "appears twice in the header");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property.Name, property.Value, dataLength, path));
            }
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            CheckNoOverlap(entries, path);
            return new SafetensorsHeader(entries, metadata, dataLength);
        }
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw Invalid(path, null, $"{MetadataKey} must be an object of strings, found {value.ValueKind}");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Invalid(path, null, $"{MetadataKey} value of '{item.Name}' must be a string, found {item.Value.ValueKind}");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Invalid(path, null, $"{MetadataKey} key '{item.Name}' appears twice");
        }
    }

    static SafetensorsEntry ReadEntry(string name, JsonElement value, long dataLength, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Invalid(path, name, $"description must be an object, found {value.ValueKind}");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Invalid(path, name, "\"dtype\" is missing or not a string");
        var dtypeText = dtypeElement.GetString();
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw Invalid(path, name, $"unknown dtype '{dtypeText}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");

        var shape = ReadIntegers(value, "shape", null, name, path);
        var offsets = ReadIntegers(value, "data_offsets", 2, name, path);
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw Invalid(path, name, $"data_offsets [{begin}, {end}] have begin > end");
        if (end > dataLength)
            throw Invalid(path, name, $"data_offsets end {end} is past the data section ({dataLength} bytes; file truncated?)");

        long expected = dtype.ElementSize();
        foreach (var d in shape)
        {
            // Overflow of prod(shape) × size would make any offsets wrong; report instead of wrapping.
            if (d != 0 && expected > long.MaxValue / d)
                throw Invalid(path, name, $"shape {SafetensorsEntry.FormatShape(shape)} × {dtype} overflows 64 bits");
            expected *= d;
        }
        if (end - begin != expected)
            throw Invalid(path, name,
                $"data_offsets [{begin}, {end}] span {end - begin} bytes but shape {SafetensorsEntry.FormatShape(shape)} of {dtype} needs {expected}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    static long[] ReadIntegers(JsonElement owner, string field, int? exactCount, string name, string path)
    {
        if (!owner.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Invalid(path, name, $"\"{field}\" is missing or not an array");
        int count = array.GetArrayLength();
        if (exactCount is int n && count != n)
            throw Invalid(path, name, $"\"{field}\" must have {n} elements, found {count}");
        var result = new long[count]; // bounded by the JSON text itself, not by a number in it
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw Invalid(path, name, $"\"{field}\" must hold non-negative integers, found {item.GetRawText()}");
            result[i++] = v;
        }
        return result;
    }

    static void CheckNoOverlap(List<SafetensorsEntry> sorted, string path)
    {
        SafetensorsEntry? previous = null;
        foreach (var entry in sorted)
        {
            if (entry.ByteLength == 0) continue; // occupies no bytes
            if (previous is not null && entry.Begin < previous.End)
                throw Invalid(path, entry.Name,
                    $"data_offsets [{entry.Begin}, {entry.End}] overlap tensor '{previous.Name}' [{previous.Begin}, {previous.End}]");
            previous = entry;
        }
    }

    internal static InvalidDataException Invalid(string path, string? tensor, string message, Exception? inner = null) =>
        new(tensor is null ? $"{path}: {message}" : $"{path}: tensor '{tensor}': {message}", inner);
}
