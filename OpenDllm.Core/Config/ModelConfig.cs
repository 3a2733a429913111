using OpenDllm.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenDllm.Config;

/// <summary>
/// Architecture of a Qwen2-family model, bound from and saved to a Hugging Face <c>config.json</c> with the
/// Qwen2 field names. Both layouts load: transformers 4.x (top-level <c>rope_theta</c>, <c>rope_scaling</c>,
/// <c>torch_dtype</c>) and 5.x (<c>rope_parameters: {rope_theta, rope_type}</c>, <c>dtype</c>, <c>layer_types</c>).
/// Keys this record does not bind are kept in <see cref="ExtraFields"/> and written back on save; <see cref="Validate"/>
/// refuses every key whose value would change the numbers and is not implemented, and <see cref="UnknownKeys"/> lists
/// the keys that are not even known Qwen2 keys, so a caller can report them.
/// </summary>
public sealed partial record ModelConfig : IJsonOnDeserialized
{
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["Qwen2ForCausalLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "qwen2";
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads for grouped-query attention; HF defaults it to the number of attention heads.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    /// <summary>Per-head size; HF derives hidden_size / num_attention_heads when absent.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 32768;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;

    double _ropeTheta = DefaultRopeTheta;
    bool _ropeThetaGiven;
    string _ropeThetaKey = "rope_theta";

    /// <summary>
    /// RoPE base θ (SPEC §2.2). transformers 4.x writes it at the top level; 5.x writes it inside
    /// <c>rope_parameters</c>, which is read when the top-level key is absent. Default 10000, as in both.
    /// </summary>
    [JsonPropertyName("rope_theta")]
    public double RopeTheta
    {
        get => _ropeTheta;
        init { _ropeTheta = value; _ropeThetaGiven = true; _ropeThetaKey = "rope_theta"; }
    }

    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }
    /// <summary>The stored weights' dtype as transformers 4.x names the key. Informational: loading always converts.</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    /// <summary>The stored weights' dtype as transformers ≥ 4.56 / 5.x names the key. Informational, like <see cref="TorchDtype"/>.</summary>
    [JsonPropertyName("dtype")] public string? Dtype { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    /// <summary>End-of-sequence id(s): HF writes one id or a list.</summary>
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(TokenIdsConverter))] public int[]? EosTokenIds { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    /// <summary>The diffusion <c>[MASK]</c> id (SPEC §2.1: an id reserved inside the embedding). Not a Qwen2 key.</summary>
    [JsonPropertyName("mask_token_id")] public int? MaskTokenId { get; init; }
    /// <summary>
    /// The explicit <c>shifted_logits</c> key: true for AR-initialised diffusion models whose logit at position i predicts
    /// token i+1 (SPEC §2.3, §10: Dream / Open-dCoder). Samplers and losses honour <see cref="IsShifted"/>. Not a Qwen2 key.
    /// </summary>
    [JsonPropertyName("shifted_logits")] public bool? ShiftedLogits { get; init; }

    /// <summary>Every other key of the file, kept verbatim and written back on save.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? ExtraFields { get; init; }

    /// <summary>The RoPE base transformers uses when a config names none.</summary>
    public const double DefaultRopeTheta = 10000.0;

    /// <summary>Number of key/value heads after HF's default.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;
    /// <summary>Per-head size after HF's default.</summary>
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;
    /// <summary>The key <see cref="RopeTheta"/> was read from (<c>rope_theta</c> or <c>rope_parameters.rope_theta</c>), for messages.</summary>
    [JsonIgnore] public string RopeThetaKey => _ropeThetaKey;
    /// <summary>The stored dtype named by <c>dtype</c> (5.x) or <c>torch_dtype</c> (4.x).</summary>
    [JsonIgnore] public string? StoredDtype => Dtype ?? TorchDtype;

    /// <summary>
    /// The value <see cref="Load"/> infers when the file has no <c>shifted_logits</c> key: true for a Hugging Face
    /// causal-LM checkpoint (<c>architectures</c> <c>*ForCausalLM</c>), whose logits are next-token aligned (SPEC §2.3, §10).
    /// Null for configs built in code.
    /// </summary>
    [JsonIgnore] public bool? InferredShiftedLogits { get; init; }
    /// <summary>True when <see cref="ShiftedLogits"/> was set by <see cref="WithShiftedLogitsOverride"/> (e.g. <c>--shifted</c>).</summary>
    [JsonIgnore] public bool ShiftedLogitsOverridden { get; init; }

    /// <summary>Whether the logit at position i predicts token i+1: the key (or override), else the inferred value, else false.</summary>
    [JsonIgnore] public bool IsShifted => ShiftedLogits ?? InferredShiftedLogits ?? false;

    /// <summary>Where <see cref="IsShifted"/> comes from.</summary>
    [JsonIgnore]
    public ShiftedLogitsSource ShiftedSource =>
        ShiftedLogitsOverridden ? ShiftedLogitsSource.Override
        : ShiftedLogits is not null ? ShiftedLogitsSource.ConfigKey
        : InferredShiftedLogits is not null ? ShiftedLogitsSource.Architectures
        : ShiftedLogitsSource.Default;

    /// <summary>One line for people, e.g. <c>inferred: Qwen2ForCausalLM without shifted_logits</c>.</summary>
    [JsonIgnore]
    public string ShiftedOrigin => ShiftedSource switch
    {
        ShiftedLogitsSource.Override => "override",
        ShiftedLogitsSource.ConfigKey => "config key shifted_logits",
        ShiftedLogitsSource.Architectures => $"inferred: {CausalLmArchitecture ?? "causal LM"} without shifted_logits",
        _ => "default: no shifted_logits key and not a causal-LM checkpoint",
    };

    /// <summary>This config with <see cref="ShiftedLogits"/> forced to <paramref name="shifted"/>, recorded as an override.</summary>
    public ModelConfig WithShiftedLogitsOverride(bool shifted) => this with { ShiftedLogits = shifted, ShiftedLogitsOverridden = true };

    string? CausalLmArchitecture => Architectures?.FirstOrDefault(a => a.EndsWith("ForCausalLM", StringComparison.Ordinal));

    /// <summary>
    /// Qwen2 keys this record keeps without binding. Each either cannot change the forward pass (e.g. <c>use_cache</c>,
    /// <c>initializer_range</c>, <c>sliding_window</c> while sliding is off) or is checked by <see cref="Validate"/>
    /// (<c>rope_parameters</c>, <c>rope_scaling</c>, <c>layer_types</c>, <c>partial_rotary_factor</c>,
    /// <c>attention_dropout</c>). <c>attention_bias</c> / <c>mlp_bias</c> are not read by transformers' Qwen2 either: its
    /// layout is fixed (q/k/v biases, none elsewhere) and the checkpoint check enforces it.
    /// </summary>
    public static readonly IReadOnlySet<string> KnownUnusedKeys = new HashSet<string>
    {
        "attention_dropout", "initializer_range", "max_window_layers", "sliding_window", "use_cache",
        "transformers_version", "rope_scaling", "rope_parameters", "partial_rotary_factor", "attention_bias", "mlp_bias",
        "layer_types", "_name_or_path",
    };

    /// <summary>Keys of the loaded file that are neither bound nor known Qwen2 keys (kept, but worth reporting).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> UnknownKeys =>
        (ExtraFields?.Keys ?? Enumerable.Empty<string>()).Where(k => !KnownUnusedKeys.Contains(k)).Order().ToList();

    /// <summary>
    /// After binding: a 5.x file keeps <c>rope_theta</c> inside <c>rope_parameters</c> (a 4.x file may carry it in
    /// <c>rope_scaling</c>); use it when there is no top-level key. Disagreements are refused by <see cref="Validate"/>.
    /// </summary>
    void IJsonOnDeserialized.OnDeserialized()
    {
        if (_ropeThetaGiven || ExtraFields is null) return;
        foreach (var key in RopeDictionaryKeys)
            if (ExtraFields.TryGetValue(key, out var dict) && dict.ValueKind == JsonValueKind.Object
                && dict.TryGetProperty("rope_theta", out var theta) && theta.ValueKind == JsonValueKind.Number)
            {
                _ropeTheta = theta.GetDouble();
                _ropeThetaKey = $"{key}.rope_theta";
                return;
            }
    }

    /// <summary>The keys holding a RoPE dictionary, in the priority transformers 5.x gives them (legacy name first).</summary>
    static readonly string[] RopeDictionaryKeys = ["rope_scaling", "rope_parameters"];

    /// <summary>
    /// Reads <c>config.json</c> (a file or a model directory holding one) in either transformers layout and checks it
    /// (<see cref="Validate"/>). Without a <c>shifted_logits</c> key, a <c>*ForCausalLM</c> checkpoint is inferred
    /// shifted (<see cref="InferredShiftedLogits"/>). A missing file raises <see cref="FileNotFoundException"/>, an
    /// unreadable one <see cref="UnauthorizedAccessException"/> ("permission denied"), each naming the path.
    /// </summary>
    public static ModelConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        var text = ReadText(file);
        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(text, ConfigJson.HuggingFace);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: invalid config.json ({e.Message})", e);
        }
        if (config == null) throw new InvalidDataException($"{file}: config.json is null");
        if (config.ShiftedLogits is null && config.CausalLmArchitecture is not null)
            config = config with { InferredShiftedLogits = true };
        return config.Validate(file);
    }

    static string ReadText(string file)
    {
        if (Directory.Exists(file)) throw new InvalidDataException($"{file}: is a directory, not a config.json file");
        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{file}: config.json not found", file, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UnauthorizedAccessException($"{file}: permission denied: cannot read config.json (check the permissions of the file and its folder)", e);
        }
    }

    /// <summary>Writes <c>config.json</c> into <paramref name="directory"/> atomically, extra keys included.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ToJson());
    }

    public string ToJson() => JsonSerializer.Serialize(this, ConfigJson.HuggingFace);

    /// <summary>A very small model for unit tests (STYLE §3.8).</summary>
    public static ModelConfig Tiny => new()
    {
        HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        VocabSize = 99, MaxPositionEmbeddings = 512, RopeTheta = 10000.0, TieWordEmbeddings = true, TorchDtype = "float32",
    };

    /// <summary>Qwen2.5-Coder-0.5B, the base of Open-dCoder 0.5B (its public config.json, embedded).</summary>
    public static ModelConfig Qwen2_5_Coder_0_5B => EmbeddedPreset("qwen2.5-coder-0.5b.json");

    static ModelConfig EmbeddedPreset(string name)
    {
        var asm = typeof(ModelConfig).Assembly;
        using var stream = asm.GetManifestResourceStream($"OpenDllm.Config.Presets.{name}")
                           ?? throw new InvalidOperationException($"embedded preset {name} is missing");
        return JsonSerializer.Deserialize<ModelConfig>(stream, ConfigJson.HuggingFace)!.Validate(name);
    }
}

/// <summary>Where <see cref="ModelConfig.IsShifted"/> comes from.</summary>
public enum ShiftedLogitsSource
{
    /// <summary>No key, not inferred: unshifted (configs built in code).</summary>
    Default,
    /// <summary>The file's <c>shifted_logits</c> key (or a <c>with</c> copy that set it).</summary>
    ConfigKey,
    /// <summary>Inferred by <see cref="ModelConfig.Load"/>: a <c>*ForCausalLM</c> checkpoint without the key.</summary>
    Architectures,
    /// <summary>Set by <see cref="ModelConfig.WithShiftedLogitsOverride"/> (the CLI's <c>--shifted</c>).</summary>
    Override,
}
