using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>
/// A safetensors file opened for reading through a memory map: the header is parsed and validated on
/// <see cref="Open"/>, tensor bytes are copied out on demand. Offsets are 64-bit throughout, so files and
/// tensors past 2 GiB work. Not thread-safe for concurrent <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (100 MB), so a corrupt length cannot force a huge allocation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly long _dataStart;
    byte* _base;

    SafetensorsFile(string path, SafetensorsHeader header, long dataStart, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Header = header;
        _dataStart = dataStart;
        _map = map;
        _view = view;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>The validated header.</summary>
    public SafetensorsHeader Header { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>Tensors in data order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries => Header.Entries;

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => Header.TryGetEntry(name, out _);

    /// <summary>The description of tensor <paramref name="name"/>, or <see cref="KeyNotFoundException"/> naming the file.</summary>
    public SafetensorsEntry GetEntry(string name) =>
        Header.TryGetEntry(name, out var entry) ? entry : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>
    /// Opens and validates <paramref name="path"/>: at least 8 bytes, a header length within the file and at most
    /// <see cref="MaxHeaderBytes"/>, and a header that passes <see cref="SafetensorsHeader.Parse"/>.
    /// Defects raise <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try { stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete); }
        catch (UnauthorizedAccessException e) { throw new UnauthorizedAccessException($"{path}: permission denied: cannot read the safetensors file", e); }
        MemoryMappedFile? map = null;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
                throw SafetensorsHeader.Invalid(path, null, $"file is {fileLength} bytes; a safetensors file starts with an 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > (ulong)(fileLength - 8))
                throw SafetensorsHeader.Invalid(path, null, $"header length {headerLength} is past the end of the file ({fileLength} bytes)");
            if (headerLength > MaxHeaderBytes)
                throw SafetensorsHeader.Invalid(path, null, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");

            var json = new byte[(int)headerLength]; // validated above: within the file and ≤ 100 MB
            stream.ReadExactly(json);
            long dataStart = 8 + (long)headerLength;
            var header = SafetensorsHeader.Parse(json, fileLength - dataStart, path);

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, header, dataStart, map, view);
        }
        catch
        {
            if (map is not null) map.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> into a new tensor, in the file's dtype unless <paramref name="dtype"/> asks
    /// for another (converted as <c>Tensor.to</c> does), on <paramref name="device"/> (CPU by default).
    /// </summary>
    public Tensor Read(string name, ScalarType? dtype = null, Device? device = null)
    {
        var entry = GetEntry(name);
        var raw = ReadRaw(entry);
        var targetType = dtype ?? raw.dtype;
        var targetDevice = device ?? CPU;
        if (targetType == raw.dtype && targetDevice.type == DeviceType.CPU) return raw;
        using (raw) return raw.to(targetType, targetDevice);
    }

    /// <summary>
    /// Copies tensor <paramref name="name"/> into <paramref name="destination"/> (e.g. a parameter) under
    /// <c>no_grad</c>, converting dtype and device. The shapes must be equal; otherwise
    /// <see cref="InvalidDataException"/> names the file, the tensor and both shapes.
    /// </summary>
    public void ReadInto(string name, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var entry = GetEntry(name);
        if (!entry.Shape.AsSpan().SequenceEqual(destination.shape))
            throw SafetensorsHeader.Invalid(Path, name,
                $"shape {entry.ShapeText} in the file does not match the destination's {SafetensorsEntry.FormatShape(destination.shape)}");
        using var noGrad = torch.no_grad();
        if (destination.device_type == DeviceType.CPU && destination.is_contiguous()
            && destination.dtype == entry.DType.ToScalarType())
        {
            TensorBytes.CopyFrom(destination, DataPointer(entry));
            return;
        }
        using var raw = ReadRaw(entry);
        destination.copy_(raw);
    }

    Tensor ReadRaw(SafetensorsEntry entry)
    {
        var tensor = torch.empty(entry.Shape, entry.DType.ToScalarType());
        try
        {
            TensorBytes.CopyFrom(tensor, DataPointer(entry));
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    byte* DataPointer(SafetensorsEntry entry)
    {
        ObjectDisposedException.ThrowIf(_base is null, this);
        return _base + _dataStart + entry.Begin;
    }

    /// <summary>Unmaps the file and closes it.</summary>
    public void Dispose()
    {
        if (_base is null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
