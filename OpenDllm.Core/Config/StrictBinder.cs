using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OpenDllm.Config;

/// <summary>
/// Binds a JSON/YAML tree to an OpenDllm record with snake_case keys, strictly: an unknown key fails naming the key and
/// listing the valid ones; a wrong type names the key and the expected type. Dotted overrides
/// (<c>train.micro_batch_size=16</c>) are applied to the tree first, and checked the same way.
/// </summary>
public static class StrictBinder
{
    public static T Bind<T>(JsonNode? tree, string source, IEnumerable<string>? overrides = null)
    {
        var root = tree as JsonObject ?? (tree is null ? new JsonObject()
            : throw new InvalidDataException($"{source}: expected a mapping at the top level"));
        foreach (var o in overrides ?? [])
            ApplyOverride(root, o);
        CheckKeys(root, typeof(T), "", source);
        try
        {
            return root.Deserialize<T>(ConfigJson.Strict) ?? throw new InvalidDataException($"{source}: empty");
        }
        catch (JsonException e)
        {
            var key = (e.Path ?? "").TrimStart('$', '.');
            throw new InvalidDataException($"{source}: bad value for '{key}': {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>The snake_case keys a record accepts.</summary>
    public static IReadOnlyList<string> KeysOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))
            .Order(StringComparer.Ordinal).ToList();

    static void CheckKeys(JsonObject obj, Type type, string prefix, string source)
    {
        var props = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .ToDictionary(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name));
        foreach (var (key, value) in obj)
        {
            if (!props.TryGetValue(key, out var prop))
                throw new InvalidDataException(
                    $"{source}: unknown key '{prefix}{key}'; valid keys{(prefix == "" ? "" : $" of '{prefix.TrimEnd('.')}'")}: {string.Join(", ", props.Keys.Order())}");
            var t = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
            if (value is JsonObject child && IsRecord(t)) CheckKeys(child, t, $"{prefix}{key}.", source);
            if (t.IsEnum && value is JsonValue v && v.TryGetValue<string>(out var text) && !EnumNames(t).Contains(text))
                throw new InvalidDataException($"{source}: {prefix}{key} = {text} is not valid; one of: {string.Join(", ", EnumNames(t))}");
        }
    }

    /// <summary>How recipes spell an enum's values: the <see cref="JsonStringEnumMemberNameAttribute"/> name, else snake_case.</summary>
    public static IReadOnlyList<string> EnumNames(Type enumType) =>
        enumType.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(f.Name))
            .ToList();

    static bool IsRecord(Type t) => t.IsClass && t != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(t);

    static void ApplyOverride(JsonObject root, string assignment)
    {
        var text = assignment.StartsWith("--") ? assignment[2..] : assignment;
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"override '{assignment}' must look like --section.key=value");
        var path = text[..eq].Split('.');
        JsonObject node = root;
        for (int i = 0; i < path.Length - 1; i++)
        {
            if (node[path[i]] is not JsonObject next) node[path[i]] = next = new JsonObject();
            node = next;
        }
        node[path[^1]] = YamlJson.ScalarFromText(text[(eq + 1)..]);
    }

    static string FirstLine(string s) => s.Split('\n')[0];
}
