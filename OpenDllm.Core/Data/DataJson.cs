using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenDllm.Data;

/// <summary>
/// Source-generated JSON for the data records (snake_case, strict: unknown keys are errors; same conventions as
/// <see cref="Config.ConfigJson.Strict"/>). Source generation keeps manifests and cursors readable in file-based apps,
/// where reflection-based System.Text.Json is disabled by default (they default to PublishAot).
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ShardManifest))]
[JsonSerializable(typeof(LoaderCursor))]
internal sealed partial class DataJson : JsonSerializerContext
{
    /// <summary>Options over this context that leave quotes, '*' and non-ASCII text unescaped (human-readable manifests).</summary>
    /// (Lazy: the generated <c>Default</c> may be initialised after this class's other statics.)
    public static JsonSerializerOptions Readable => s_readable ??= new(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static JsonSerializerOptions? s_readable;
}
