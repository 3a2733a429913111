namespace OpenDllm.Models.Bert.Onnx;

/// <summary>
/// A minimal protobuf wire-format reader (varints, 64/32-bit fixed, length-delimited fields): enough to walk an ONNX
/// <c>ModelProto</c> without a protobuf dependency. Each <see cref="Next"/> yields a field number, its wire type and value.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    readonly ReadOnlySpan<byte> _data = data;
    int _position;

    /// <summary>The current field's number, wire type (0 varint, 1 fixed64, 2 bytes, 5 fixed32), varint value and byte payload.</summary>
    public int Field { get; private set; }
    public int WireType { get; private set; }
    public ulong Varint { get; private set; }
    public ReadOnlySpan<byte> Bytes => _data.Slice(_start, _length);
    int _start, _length;

    /// <summary>Advances to the next field; false at the end.</summary>
    public bool Next()
    {
        if (_position >= _data.Length) return false;
        ulong key = ReadVarint();
        Field = (int)(key >> 3);
        WireType = (int)(key & 7);
        switch (WireType)
        {
            case 0: Varint = ReadVarint(); _length = 0; break;
            case 1: Take(8); break;
            case 2: Take(checked((int)ReadVarint())); break;
            case 5: Take(4); break;
            default: throw new InvalidDataException($"protobuf wire type {WireType} (field {Field}) is not supported");
        }
        return true;
    }

    /// <summary>The current field as a UTF-8 string.</summary>
    public string String => System.Text.Encoding.UTF8.GetString(Bytes);

    /// <summary>Decodes the int64 values of a packed (wire type 2) or single (wire type 0) repeated int64 field.</summary>
    public void AddInt64s(List<long> into)
    {
        if (WireType == 0) { into.Add((long)Varint); return; }
        var inner = new ProtoReader(Bytes);
        while (inner._position < inner._data.Length) into.Add((long)inner.ReadVarint());
    }

    void Take(int length)
    {
        if (length < 0 || _position + length > _data.Length) throw new InvalidDataException("truncated protobuf message");
        _start = _position;
        _length = length;
        _position += length;
    }

    ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length) throw new InvalidDataException("truncated protobuf varint");
            byte b = _data[_position++];
            result |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return result;
        }
        throw new InvalidDataException("protobuf varint longer than 10 bytes");
    }
}
