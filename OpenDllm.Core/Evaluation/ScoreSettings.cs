using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace OpenDllm.Evaluation;

/// <summary>
/// Every setting that can change a verdict, as one JSON object: the task, the sandbox limits (program clock, outside kill,
/// CPU, memory, file size, processes, tmpfs size), the isolation label, the Python version, a hash of the harness itself
/// (runner, mount script, bwrap arguments), and, for generation runs, what produced the completions (<c>generation</c>: checkpoint
/// SHA-256, sampler and its settings). A results file's summary records the object as <c>settings</c>, and every row its
/// hash as <c>settings_sha256</c>; a row is resumed only under the same hash (<see cref="SampleScorer"/>).
/// </summary>
public static class ScoreSettings
{
    /// <summary>SHA-256 of the runner, the mount script and the bwrap arguments, first 16 hex digits: a change in any can change verdicts.</summary>
    public static string Harness { get; } =
        Sha256(SandboxGuard.RunnerSource + "\n" + SandboxMounts.SetupScript + "\n" + string.Join(" ", SandboxMounts.Bubblewrap("bwrap", root: true)))[..16];

    /// <summary>The settings object, keys in ordinal order so that its JSON text (and hash) is canonical.</summary>
    public static JsonObject Build(string task, SandboxOptions options, SandboxIsolation isolation, IReadOnlyDictionary<string, string?>? generation)
    {
        var settings = new JsonObject
        {
            ["cpu_s"] = options.EffectiveCpuSeconds,
            ["generation"] = generation is null ? null
                : new JsonObject(generation.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["harness"] = Harness,
            ["isolation"] = isolation.Label,
            ["kill_after_s"] = options.EffectiveKillAfterSeconds,
            ["max_file_bytes"] = options.MaxFileBytes,
            ["max_processes"] = options.MaxProcesses,
            ["memory_bytes"] = options.MemoryBytes,
            ["python"] = isolation.PythonVersion,
            ["task"] = task,
            ["timeout_s"] = options.TimeoutSeconds,
            ["tmpfs_bytes"] = options.TmpfsBytes,
        };
        if (generation is null) settings.Remove("generation");
        return settings;
    }

    /// <summary>SHA-256 of the settings object's compact JSON text, lower-case hex.</summary>
    public static string Hash(JsonObject settings) => Sha256(settings.ToJsonString());

    /// <summary>SHA-256 of <paramref name="text"/> as UTF-8, lower-case hex.</summary>
    public static string Sha256(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

    /// <summary>The settings that differ between <paramref name="before"/> and <paramref name="after"/>, as "name old → new".</summary>
    public static IReadOnlyList<string> Differences(JsonObject? before, JsonObject after)
    {
        var changes = new List<string>();
        if (before is null) return changes;
        void Compare(JsonObject a, JsonObject b, string prefix)
        {
            foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)).Order(StringComparer.Ordinal))
            {
                JsonNode? x = a[key], y = b[key];
                if (x is JsonObject ox && y is JsonObject oy) { Compare(ox, oy, prefix + key + "."); continue; }
                if (!JsonNode.DeepEquals(x, y)) changes.Add($"{prefix}{key} {Show(x)} → {Show(y)}");
            }
        }
        Compare(before, after, "");
        return changes;
    }

    static string Show(JsonNode? node)
    {
        var text = node switch
        {
            null => "none",
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => node.ToJsonString(),
        };
        return text.Length > 16 && text.All(char.IsAsciiHexDigit) ? text[..12] + "…" : text;
    }
}
