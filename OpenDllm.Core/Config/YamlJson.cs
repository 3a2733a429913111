using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace OpenDllm.Config;

/// <summary>
/// Reads YAML into a <see cref="JsonNode"/> so recipes bind through the same strict System.Text.Json path as JSON.
/// Plain scalars are typed (integers, floats, true/false, null/~); quoted scalars stay strings.
/// </summary>
public static class YamlJson
{
    public static JsonNode? Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(yaml)); }
        catch (YamlException e) { throw new InvalidDataException($"{source}: invalid YAML at line {e.Start.Line}: {e.Message}", e); }
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode, source);
    }

    static JsonNode? Convert(YamlNode node, string source) => node switch
    {
        YamlMappingNode map => MappingToObject(map, source),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(c => Convert(c, source)).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidDataException($"{source}: unsupported YAML node at line {node.Start.Line}"),
    };

    static JsonObject MappingToObject(YamlMappingNode map, string source)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? throw new InvalidDataException($"{source}: non-scalar key at line {key.Start.Line}");
            if (obj.ContainsKey(name)) throw new InvalidDataException($"{source}: duplicate key '{name}' at line {key.Start.Line}");
            obj[name] = Convert(value, source);
        }
        return obj;
    }

    /// <summary>Types a plain scalar the way YAML 1.2's core schema does; quoted scalars are strings.</summary>
    public static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
            return JsonValue.Create(text);
        return ScalarFromText(text);
    }

    /// <summary>Types an unquoted value (also used for command-line overrides such as <c>--train.lr=3e-4</c>).</summary>
    public static JsonNode? ScalarFromText(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE": return JsonValue.Create(true);
            case "false" or "False" or "FALSE": return JsonValue.Create(false);
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && text.Any(char.IsDigit))
            return JsonValue.Create(d);
        return JsonValue.Create(text);
    }
}
