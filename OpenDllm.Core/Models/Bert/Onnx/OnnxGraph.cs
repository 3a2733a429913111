using System.Buffers.Binary;

namespace OpenDllm.Models.Bert.Onnx;

/// <summary>One ONNX tensor (an initializer or a Constant's value): name, dims, element type and its little-endian bytes.</summary>
/// <param name="DataType">ONNX TensorProto.DataType: 1 float, 7 int64, …</param>
public sealed record OnnxTensor(string Name, long[] Dims, int DataType, byte[] Data)
{
    public const int Float = 1, Int64 = 7;

    /// <summary>The values as float32 (throws unless the type is float).</summary>
    public float[] Floats() => DataType == Float ? Cast<float>() : throw new InvalidDataException($"ONNX tensor {Name}: data type {DataType}, expected float (1)");

    /// <summary>The values as int64 (throws unless the type is int64).</summary>
    public long[] Int64s() => DataType == Int64 ? Cast<long>() : throw new InvalidDataException($"ONNX tensor {Name}: data type {DataType}, expected int64 (7)");

    T[] Cast<T>() where T : unmanaged
    {
        var values = new T[Data.Length / System.Runtime.CompilerServices.Unsafe.SizeOf<T>()];
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
        Buffer.BlockCopy(Data, 0, values, 0, Data.Length);
        return values;
    }
}

/// <summary>One ONNX node: op type, inputs and outputs (value names), its tensor-valued attribute <c>value</c> if any, and
/// its integer and float attributes by name (e.g. Gemm's <c>transB</c>, LayerNormalization's <c>epsilon</c>).</summary>
public sealed record OnnxNode(string OpType, string Name, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, OnnxTensor? Value,
                              IReadOnlyDictionary<string, long> Ints, IReadOnlyDictionary<string, float> Floats);

/// <summary>
/// The parts of an ONNX <c>ModelProto</c> a weight converter needs: <c>graph.initializer</c> (field 5), <c>graph.node</c>
/// (field 1) with Constant values, and the graph's input/output names (11, 12). Tensors with external data are refused.
/// Field numbers from onnx.proto (ModelProto.graph = 7; TensorProto dims = 1, data_type = 2, float_data = 4, int64_data = 7,
/// name = 8, raw_data = 9, data_location = 14; NodeProto input = 1, output = 2, name = 3, op_type = 4, attribute = 5;
/// AttributeProto name = 1, t = 5).
/// </summary>
public sealed class OnnxGraph
{
    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }
    public IReadOnlyList<OnnxNode> Nodes { get; }
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }

    OnnxGraph(Dictionary<string, OnnxTensor> initializers, List<OnnxNode> nodes, List<string> inputs, List<string> outputs)
    {
        Initializers = initializers; Nodes = nodes; Inputs = inputs; Outputs = outputs;
    }

    /// <summary>Parses <paramref name="path"/>; errors name the file.</summary>
    public static OnnxGraph Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: ONNX model not found", path);
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a readable ONNX model ({e.Message})", e);
        }
    }

    public static OnnxGraph Parse(ReadOnlySpan<byte> model)
    {
        var reader = new ProtoReader(model);
        bool found = false;
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var nodes = new List<OnnxNode>();
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (reader.Next())
        {
            if (reader.Field != 7 || reader.WireType != 2) continue;
            found = true;
            var graph = new ProtoReader(reader.Bytes);
            while (graph.Next())
            {
                if (graph.WireType != 2) continue;
                switch (graph.Field)
                {
                    case 1: nodes.Add(ReadNode(graph.Bytes)); break;
                    case 5:
                        var t = ReadTensor(graph.Bytes);
                        if (!initializers.TryAdd(t.Name, t)) throw new InvalidDataException($"initializer {t.Name} appears twice");
                        break;
                    case 11: inputs.Add(ReadName(graph.Bytes)); break;
                    case 12: outputs.Add(ReadName(graph.Bytes)); break;
                }
            }
        }
        if (!found) throw new InvalidDataException("no graph (ModelProto field 7)");
        return new OnnxGraph(initializers, nodes, inputs, outputs);
    }

    static string ReadName(ReadOnlySpan<byte> valueInfo)
    {
        var r = new ProtoReader(valueInfo);
        while (r.Next()) if (r.Field == 1 && r.WireType == 2) return r.String;
        return "";
    }

    static OnnxNode ReadNode(ReadOnlySpan<byte> bytes)
    {
        var r = new ProtoReader(bytes);
        var inputs = new List<string>(); var outputs = new List<string>();
        string name = "", op = "";
        OnnxTensor? value = null;
        var ints = new Dictionary<string, long>(StringComparer.Ordinal);
        var floats = new Dictionary<string, float>(StringComparer.Ordinal);
        while (r.Next())
        {
            if (r.WireType != 2) continue;
            switch (r.Field)
            {
                case 1: inputs.Add(r.String); break;
                case 2: outputs.Add(r.String); break;
                case 3: name = r.String; break;
                case 4: op = r.String; break;
                case 5: ReadAttribute(r.Bytes, ref value, ints, floats); break;
            }
        }
        return new OnnxNode(op, name, inputs, outputs, value, ints, floats);
    }

    /// <summary>AttributeProto: name = 1, f = 2 (fixed32), i = 3 (varint), t = 5 (tensor).</summary>
    static void ReadAttribute(ReadOnlySpan<byte> bytes, ref OnnxTensor? value, Dictionary<string, long> ints, Dictionary<string, float> floats)
    {
        var r = new ProtoReader(bytes);
        string name = "";
        long? i = null; float? f = null; OnnxTensor? t = null;
        while (r.Next())
        {
            if (r.Field == 1 && r.WireType == 2) name = r.String;
            else if (r.Field == 2 && r.WireType == 5) f = BinaryPrimitives.ReadSingleLittleEndian(r.Bytes);
            else if (r.Field == 3 && r.WireType == 0) i = (long)r.Varint;
            else if (r.Field == 5 && r.WireType == 2) t = ReadTensor(r.Bytes);
        }
        if (i is { } iv) ints[name] = iv;
        if (f is { } fv) floats[name] = fv;
        if (t is not null && name == "value") value ??= t;
    }

    static OnnxTensor ReadTensor(ReadOnlySpan<byte> bytes)
    {
        var r = new ProtoReader(bytes);
        var dims = new List<long>();
        var int64s = new List<long>();
        var floats = new List<byte>();
        string name = "";
        int type = 0;
        byte[]? raw = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: dims.AddRange(Int64s(ref r)); break;
                case 2: type = (int)r.Varint; break;
                case 4 when r.WireType == 2: floats.AddRange(r.Bytes.ToArray()); break;
                case 4 when r.WireType == 5: floats.AddRange(r.Bytes.ToArray()); break;
                case 7: int64s.AddRange(Int64s(ref r)); break;
                case 8: name = r.String; break;
                case 9: raw = r.Bytes.ToArray(); break;
                case 14 when r.Varint == 1: throw new InvalidDataException($"tensor {name}: external data is not supported (save the model with its weights inside)");
            }
        }
        if (raw is null)
        {
            if (int64s.Count > 0)
            {
                raw = new byte[int64s.Count * 8];
                for (int i = 0; i < int64s.Count; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), int64s[i]);
            }
            else raw = floats.ToArray();
        }
        return new OnnxTensor(name, dims.ToArray(), type, raw);
    }

    static List<long> Int64s(ref ProtoReader r)
    {
        var list = new List<long>();
        r.AddInt64s(list);
        return list;
    }
}
