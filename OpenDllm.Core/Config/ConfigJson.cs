using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace OpenDllm.Config;

/// <summary>The JSON options used for configuration files (STYLE §3.7): one place, snake_case names.</summary>
public static class ConfigJson
{
    /// <summary>Lenient reader/writer for Hugging Face files: unknown keys go to extension data, nulls are omitted.</summary>
    public static readonly JsonSerializerOptions HuggingFace = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),   // works even where reflection JSON is off by default
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Strict options for OpenDllm's own records: snake_case, and a key the record lacks is an error.</summary>
    public static readonly JsonSerializerOptions Strict = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
