using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Lora;

/// <summary>
/// PEFT's <c>adapter_config.json</c> for a LoRA adapter, as far as OpenDllm implements it. Reading is strict in one
/// direction: a key whose value would change the numbers and that OpenDllm does not implement (DoRA, rsLoRA, a bias mode
/// other than <c>none</c>, per-layer rank or alpha patterns, <c>fan_in_fan_out</c>, <c>modules_to_save</c>, layer
/// selection, regular-expression targets, …) is refused with a one-line error naming the key and its value. Keys that only
/// describe how PEFT initialised or ran the adapter (<c>init_lora_weights</c>, <c>inference_mode</c>, <c>revision</c>, …)
/// are accepted whatever their value. An unknown key is accepted only when its value is null, false, "" or empty, since
/// a newer PEFT writes its new options with such defaults.
/// </summary>
/// <param name="BaseModel"><c>base_model_name_or_path</c>: where the adapter was trained from (informational).</param>
/// <param name="TaskType"><c>task_type</c> (informational; OpenDllm writes <c>CAUSAL_LM</c>).</param>
public sealed record PeftAdapterConfig(LoraOptions Options, string? BaseModel, string? TaskType = "CAUSAL_LM")
{
    /// <summary>The file name PEFT uses.</summary>
    public const string FileName = "adapter_config.json";

    /// <summary>Keys that change nothing once the weights are in the file (initialisation, bookkeeping).</summary>
    static readonly HashSet<string> Informational = new(StringComparer.Ordinal)
    {
        "base_model_name_or_path", "task_type", "inference_mode", "init_lora_weights", "revision", "auto_mapping",
        "peft_version", "loftq_config", "eva_config", "corda_config", "megatron_config", "megatron_core", "runtime_config",
        "qalora_group_size", "ensure_weight_tying",
    };

    /// <summary>Keys OpenDllm supports only at the value that leaves plain LoRA: key → description of the accepted value.</summary>
    static readonly Dictionary<string, Func<JsonNode?, bool>> PlainOnly = new(StringComparer.Ordinal)
    {
        ["bias"] = v => v is null || (v is JsonValue s && s.TryGetValue<string>(out var b) && b == "none"),
        ["fan_in_fan_out"] = IsEmpty,
        ["use_rslora"] = IsEmpty,
        ["use_dora"] = IsEmpty,
        ["lora_bias"] = IsEmpty,
        ["use_qalora"] = IsEmpty,
        ["rank_pattern"] = IsEmpty,
        ["alpha_pattern"] = IsEmpty,
        ["modules_to_save"] = IsEmpty,
        ["layers_to_transform"] = IsEmpty,
        ["layers_pattern"] = IsEmpty,
        ["layer_replication"] = IsEmpty,
        ["exclude_modules"] = IsEmpty,
        ["trainable_token_indices"] = IsEmpty,
        ["target_parameters"] = IsEmpty,
        ["alora_invocation_tokens"] = IsEmpty,
        ["arrow_config"] = IsEmpty,
    };

    /// <summary>null, false, "", [] or {}: a setting left at its off value.</summary>
    static bool IsEmpty(JsonNode? v) => v switch
    {
        null => true,
        JsonArray a => a.Count == 0,
        JsonObject o => o.Count == 0,
        JsonValue s when s.TryGetValue<bool>(out var b) => !b,
        JsonValue s when s.TryGetValue<string>(out var t) => t.Length == 0,
        _ => false,
    };

    /// <summary>Reads <paramref name="directory"/>/adapter_config.json; throws <see cref="InvalidDataException"/> naming
    /// the file, the key and the value for anything missing, malformed or unsupported.</summary>
    public static PeftAdapterConfig Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(directory)
                ? $"{directory}: no {FileName} (not a PEFT adapter folder)" : $"{directory}: adapter folder not found", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        return Parse(root, path);
    }

    static PeftAdapterConfig Parse(JsonObject root, string path)
    {
        InvalidDataException Bad(string key, JsonNode? value, string why) =>
            new($"{path}: {key} = {value?.ToJsonString() ?? "null"} {why}");

        foreach (var (key, value) in root)
        {
            if (key is "peft_type" or "r" or "lora_alpha" or "lora_dropout" or "target_modules" || Informational.Contains(key)) continue;
            if (PlainOnly.TryGetValue(key, out var plain))
            {
                if (!plain(value)) throw Bad(key, value, "is not supported: OpenDllm implements plain LoRA only (loading it would give other numbers)");
                continue;
            }
            if (!IsEmpty(value)) throw Bad(key, value, "is an adapter setting OpenDllm does not know; refusing rather than ignoring it");
        }

        var type = Text(root, "peft_type", path);
        if (type != "LORA") throw Bad("peft_type", root["peft_type"], "is not supported: only LORA adapters load");
        int rank = root["r"] is JsonValue r && r.TryGetValue<int>(out var ri) ? ri
            : throw Bad("r", root["r"], "must be a positive integer");
        double alpha = Number(root, "lora_alpha", path, rank);   // PEFT's default α is 8; a file without it is unusual
        double dropout = root["lora_dropout"] is null ? 0 : Number(root, "lora_dropout", path, 0);
        IReadOnlyList<string> targets = root["target_modules"] switch
        {
            JsonArray a when a.Count > 0 && a.All(e => e is JsonValue v && v.TryGetValue<string>(out _)) =>
                a.Select(e => e!.GetValue<string>()).ToList(),
            JsonValue v when v.TryGetValue<string>(out var s) && s == LoraTargets.AllLinear => [LoraTargets.AllLinear],
            JsonValue v when v.TryGetValue<string>(out _) =>
                throw Bad("target_modules", root["target_modules"], "is a regular expression; OpenDllm reads target_modules as a list of names only"),
            var other => throw Bad("target_modules", other, "must be a non-empty list of module names"),
        };
        var options = new LoraOptions(rank, alpha, dropout, targets);
        try { options.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        string? baseModel = root["base_model_name_or_path"] is JsonValue bm && bm.TryGetValue<string>(out var bms) ? bms : null;
        string? task = root["task_type"] is JsonValue tt && tt.TryGetValue<string>(out var tts) ? tts : null;
        return new PeftAdapterConfig(options, baseModel, task);
    }

    static string Text(JsonObject root, string key, string path) =>
        root[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new InvalidDataException($"{path}: {key} = {root[key]?.ToJsonString() ?? "(missing)"} must be a string");

    static double Number(JsonObject root, string key, string path, double fallback)
    {
        if (!root.ContainsKey(key)) return fallback;
        return root[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : throw new InvalidDataException($"{path}: {key} = {root[key]?.ToJsonString() ?? "null"} must be a number");
    }

    /// <summary>The JSON PEFT would write for these settings (the keys of <c>LoraConfig</c> that matter, at plain-LoRA values).</summary>
    public string ToJson()
    {
        var o = Options;
        var root = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["base_model_name_or_path"] = BaseModel,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = o.Alpha == Math.Floor(o.Alpha) && Math.Abs(o.Alpha) < int.MaxValue ? JsonValue.Create((int)o.Alpha) : JsonValue.Create(o.Alpha),
            ["lora_dropout"] = o.Dropout,
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = o.Rank,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = o.Targets.SequenceEqual([LoraTargets.AllLinear])
                ? JsonValue.Create(LoraTargets.AllLinear)
                : new JsonArray(o.Targets.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["task_type"] = TaskType,
            ["use_dora"] = false,
            ["use_rslora"] = false,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
