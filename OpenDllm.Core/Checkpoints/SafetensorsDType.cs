using TorchSharp;

namespace OpenDllm.Checkpoints;

/// <summary>
/// The element types a safetensors header may name (the <c>"dtype"</c> field), limited to those TorchSharp can hold.
/// Every type is stored little-endian; <see cref="BOOL"/> is one byte per element (0 or 1).
/// </summary>
public enum SafetensorsDType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}

/// <summary>Element sizes, header spellings and TorchSharp <see cref="torch.ScalarType"/> mappings of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element: 8 for F64/I64, 4 for F32/I32, 2 for F16/BF16/I16, 1 for I8/U8/BOOL.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>The spelling used in the header, e.g. <c>"BF16"</c>.</summary>
    public static string ToHeaderString(this SafetensorsDType dtype) =>
        Enum.IsDefined(dtype) ? dtype.ToString() : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype");

    /// <summary>Parses a header spelling (case-sensitive, as the format defines it); <c>false</c> for anything unknown.</summary>
    public static bool TryParse(string? text, out SafetensorsDType dtype)
    {
        dtype = text switch
        {
            "F64" => SafetensorsDType.F64,
            "F32" => SafetensorsDType.F32,
            "F16" => SafetensorsDType.F16,
            "BF16" => SafetensorsDType.BF16,
            "I64" => SafetensorsDType.I64,
            "I32" => SafetensorsDType.I32,
            "I16" => SafetensorsDType.I16,
            "I8" => SafetensorsDType.I8,
            "U8" => SafetensorsDType.U8,
            "BOOL" => SafetensorsDType.BOOL,
            _ => (SafetensorsDType)(-1),
        };
        return dtype >= 0;
    }

    /// <summary>Parses a header spelling, or throws <see cref="InvalidDataException"/> listing the supported names.</summary>
    public static SafetensorsDType Parse(string? text) =>
        TryParse(text, out var dtype)
            ? dtype
            : throw new InvalidDataException($"unknown safetensors dtype '{text}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");

    /// <summary>The TorchSharp element type holding this dtype.</summary>
    public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>The safetensors dtype for a TorchSharp element type; complex and quantized types throw <see cref="NotSupportedException"/>.</summary>
    public static SafetensorsDType FromScalarType(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float64 => SafetensorsDType.F64,
        torch.ScalarType.Float32 => SafetensorsDType.F32,
        torch.ScalarType.Float16 => SafetensorsDType.F16,
        torch.ScalarType.BFloat16 => SafetensorsDType.BF16,
        torch.ScalarType.Int64 => SafetensorsDType.I64,
        torch.ScalarType.Int32 => SafetensorsDType.I32,
        torch.ScalarType.Int16 => SafetensorsDType.I16,
        torch.ScalarType.Int8 => SafetensorsDType.I8,
        torch.ScalarType.Byte => SafetensorsDType.U8,
        torch.ScalarType.Bool => SafetensorsDType.BOOL,
        _ => throw new NotSupportedException($"TorchSharp dtype {type} has no safetensors equivalent"),
    };
}
