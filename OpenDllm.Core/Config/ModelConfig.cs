using OpenDllm.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OpenDllm.Config;

/// <summary>
/// Architecture of a Qwen2-family model, bound from and saved to a Hugging Face <c>config.json</c> with the
/// Qwen2 field names. Keys this record does not bind are kept in <see cref="ExtraFields"/> and written back on
/// save; <see cref="UnknownKeys"/> lists those that are not even known Qwen2 keys, so a caller can report them.
/// </summary>
public sealed record ModelConfig
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
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool UseSlidingWindow { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    /// <summary>The diffusion <c>[MASK]</c> id (SPEC §2.1: an id reserved inside the embedding). Not a Qwen2 key.</summary>
    [JsonPropertyName("mask_token_id")] public int? MaskTokenId { get; init; }
    /// <summary>
    /// True for AR-initialised diffusion models whose logit at position i predicts token i+1 (SPEC §2.3, §10:
    /// Dream / Open-dCoder). Samplers and losses honour it. Not a Qwen2 key.
    /// </summary>
    [JsonPropertyName("shifted_logits")] public bool? ShiftedLogits { get; init; }

    /// <summary>Every other key of the file, kept verbatim and written back on save.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? ExtraFields { get; init; }

    /// <summary>Number of key/value heads after HF's default.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;
    /// <summary>Per-head size after HF's default.</summary>
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;
    [JsonIgnore] public bool IsShifted => ShiftedLogits ?? false;

    /// <summary>Qwen2 keys that this record keeps but the model does not use (they do not change the forward).</summary>
    public static readonly IReadOnlySet<string> KnownUnusedKeys = new HashSet<string>
    {
        "attention_dropout", "initializer_range", "max_window_layers", "sliding_window", "use_cache",
        "transformers_version", "rope_scaling", "attention_bias", "layer_types", "_name_or_path", "dtype",
        "bos_token_id", "eos_token_id", "pad_token_id",
    };

    /// <summary>Keys of the loaded file that are neither bound nor known Qwen2 keys (kept, but worth reporting).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> UnknownKeys =>
        (ExtraFields?.Keys ?? Enumerable.Empty<string>()).Where(k => !KnownUnusedKeys.Contains(k)).Order().ToList();

    /// <summary>Checks the fields the model needs; throws <see cref="ArgumentOutOfRangeException"/> naming the field.</summary>
    public ModelConfig Validate(string source = "config")
    {
        void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{source}: {name} must be positive");
        }
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(KeyValueHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(VocabSize, "vocab_size");
        if (NumAttentionHeads % KeyValueHeads != 0)
            throw new ArgumentOutOfRangeException("num_key_value_heads", KeyValueHeads,
                $"{source}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads");
        if (HeadDim % 2 != 0)
            throw new ArgumentOutOfRangeException("head_dim", HeadDim, $"{source}: head_dim must be even for rotary embeddings");
        if (HiddenAct != "silu")
            throw new ArgumentOutOfRangeException("hidden_act", HiddenAct, $"{source}: only hidden_act \"silu\" is implemented");
        if (UseSlidingWindow)
            throw new ArgumentOutOfRangeException("use_sliding_window", true, $"{source}: sliding-window attention is not implemented");
        if (ExtraFields != null && ExtraFields.TryGetValue("rope_scaling", out var rs) && rs.ValueKind != JsonValueKind.Null)
            throw new ArgumentOutOfRangeException("rope_scaling", rs.ToString(), $"{source}: rope_scaling is not implemented");
        if (MaskTokenId is { } m && (m < 0 || m >= VocabSize))
            throw new ArgumentOutOfRangeException("mask_token_id", m, $"{source}: mask_token_id must lie in [0, vocab_size={VocabSize})");
        return this;
    }

    /// <summary>Reads <c>config.json</c> (a file or a model directory holding one).</summary>
    public static ModelConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: config.json not found", file);
        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(file), ConfigJson.HuggingFace);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: invalid config.json ({e.Message})", e);
        }
        if (config == null) throw new InvalidDataException($"{file}: config.json is null");
        return config.Validate(file);
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
