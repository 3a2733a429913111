using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenDllm.Config;
using OpenDllm.IO;

namespace OpenDllm.Models.Bert;

/// <summary>
/// Architecture of a BERT-family encoder (BERT, MiniLM, …), bound from and saved to a Hugging Face <c>config.json</c>
/// with <c>model_type: bert</c> and the HF field names, plus OpenDllm's <c>mask_token_id</c> and <c>shifted_logits</c>
/// (as <see cref="ModelConfig"/> has them). The model it describes: learned absolute positions, token type 0, post-LayerNorm
/// blocks, exact (erf) GELU, an MLM head tied to the word embeddings. Keys this record does not bind are kept in
/// <see cref="ExtraFields"/> and written back; <see cref="Validate"/> refuses every setting that would change
/// transformers' numbers and is not implemented, naming the file and the key.
/// </summary>
public sealed record BertConfig
{
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["BertForMaskedLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "bert";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 768;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 12;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 3072;
    /// <summary>The FFN activation: only <c>gelu</c> (exact, GELU(x) = x·Φ(x) = ½x(1 + erf(x/√2))) is implemented.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "gelu";
    /// <summary>Dropout on the embeddings, attention output and FFN output; active only in training mode, as in HF.</summary>
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; init; } = 0.1;
    /// <summary>Dropout on the attention probabilities; active only in training mode, as in HF.</summary>
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; init; } = 0.1;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; init; } = 2;
    /// <summary>σ of the normal initialisation (<see cref="BertForMaskedLM.InitializeWeights"/>).</summary>
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; init; } = 0.02;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-12;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 30522;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    /// <summary>Only <c>absolute</c> (learned position embeddings) is implemented.</summary>
    [JsonPropertyName("position_embedding_type")] public string PositionEmbeddingType { get; init; } = "absolute";
    /// <summary>The MLM decoder is tied to the word embeddings (HF's default); false is refused.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool? TieWordEmbeddings { get; init; }
    [JsonPropertyName("is_decoder")] public bool? IsDecoder { get; init; }
    [JsonPropertyName("add_cross_attention")] public bool? AddCrossAttention { get; init; }
    /// <summary>The stored weights' dtype (informational: loading converts).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    /// <summary>The diffusion <c>[MASK]</c> id (103 in the uncased BERT vocabulary). Not an HF key.</summary>
    [JsonPropertyName("mask_token_id")] public int? MaskTokenId { get; init; }
    /// <summary>Whether logit i predicts token i+1 (SPEC §2.3). Always false for BERT, which predicts in place. Not an HF key.</summary>
    [JsonPropertyName("shifted_logits")] public bool? ShiftedLogits { get; init; }

    /// <summary>Every other key of the file, kept verbatim and written back on save.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? ExtraFields { get; init; }

    /// <summary>Per-head size d = hidden_size / num_attention_heads.</summary>
    [JsonIgnore] public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Unshifted unless the file says otherwise (BERT predicts each position in place).</summary>
    [JsonIgnore] public bool IsShifted => ShiftedLogits ?? false;

    /// <summary>
    /// HF BERT keys that are kept but cannot change the forward pass here (bookkeeping, the pooler's and the classifier's
    /// own settings, feed-forward chunking, which only changes memory).
    /// </summary>
    public static readonly IReadOnlySet<string> KnownUnusedKeys = new HashSet<string>
    {
        "transformers_version", "_name_or_path", "gradient_checkpointing", "use_cache", "classifier_dropout",
        "chunk_size_feed_forward", "bos_token_id", "eos_token_id", "dtype", "output_past", "directionality",
        "id2label", "label2id", "problem_type", "finetuning_task", "return_dict", "output_hidden_states",
        "output_attentions", "pooler_fc_size", "pooler_num_attention_heads", "pooler_num_fc_layers", "pooler_size_per_head",
        "pooler_type",
    };

    /// <summary>Keys of the loaded file that are neither bound nor known (kept, worth reporting).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> UnknownKeys =>
        (ExtraFields?.Keys ?? Enumerable.Empty<string>()).Where(k => !KnownUnusedKeys.Contains(k)).Order().ToList();

    /// <summary>
    /// Checks sizes and refuses settings this model does not implement, with a message starting with
    /// <paramref name="source"/> and the key: model_type other than bert, hidden_act other than gelu (gelu_new, relu, …
    /// would give other numbers), position_embedding_type other than absolute, is_decoder / add_cross_attention,
    /// tie_word_embeddings false, an <c>embedding_size</c> other than hidden_size (ALBERT-style factorised embeddings),
    /// shifted_logits true, dropout outside [0, 1).
    /// </summary>
    public BertConfig Validate(string source = "config")
    {
        if (ModelType != "bert") throw Refuse(source, "model_type", ModelType, "only bert is supported by BertForMaskedLM");
        Positive(HiddenSize, "hidden_size", source);
        Positive(NumHiddenLayers, "num_hidden_layers", source);
        Positive(NumAttentionHeads, "num_attention_heads", source);
        Positive(IntermediateSize, "intermediate_size", source);
        Positive(MaxPositionEmbeddings, "max_position_embeddings", source);
        Positive(TypeVocabSize, "type_vocab_size", source);
        Positive(VocabSize, "vocab_size", source);
        if (HiddenSize % NumAttentionHeads != 0)
            throw Refuse(source, "num_attention_heads", NumAttentionHeads, $"must divide hidden_size = {HiddenSize}");
        if (!(LayerNormEps > 0) || !double.IsFinite(LayerNormEps)) throw Refuse(source, "layer_norm_eps", LayerNormEps, "must be finite and > 0");
        if (!(InitializerRange >= 0) || !double.IsFinite(InitializerRange)) throw Refuse(source, "initializer_range", InitializerRange, "must be finite and ≥ 0");
        if (HiddenDropoutProb is < 0 or >= 1 || double.IsNaN(HiddenDropoutProb)) throw Refuse(source, "hidden_dropout_prob", HiddenDropoutProb, "must lie in [0, 1)");
        if (AttentionProbsDropoutProb is < 0 or >= 1 || double.IsNaN(AttentionProbsDropoutProb))
            throw Refuse(source, "attention_probs_dropout_prob", AttentionProbsDropoutProb, "must lie in [0, 1)");
        if (PadTokenId < 0 || PadTokenId >= VocabSize) throw Refuse(source, "pad_token_id", PadTokenId, $"must lie in [0, vocab_size = {VocabSize})");
        if (MaskTokenId is { } m && (m < 0 || m >= VocabSize)) throw Refuse(source, "mask_token_id", m, $"must lie in [0, vocab_size = {VocabSize})");
        if (HiddenAct != "gelu")
            throw Refuse(source, "hidden_act", HiddenAct, "only gelu (exact erf GELU) is implemented");
        if (PositionEmbeddingType != "absolute")
            throw Refuse(source, "position_embedding_type", PositionEmbeddingType, "only absolute (learned) position embeddings are implemented");
        if (IsDecoder == true) throw Refuse(source, "is_decoder", true, "a BERT decoder (causal with cross-attention caches) is not implemented");
        if (AddCrossAttention == true) throw Refuse(source, "add_cross_attention", true, "cross-attention is not implemented");
        if (TieWordEmbeddings == false)
            throw Refuse(source, "tie_word_embeddings", false, "only an MLM decoder tied to the word embeddings is implemented");
        if (ShiftedLogits == true) throw Refuse(source, "shifted_logits", true, "a BERT masked LM predicts in place; shifted logits are not supported");
        if (ExtraFields?.TryGetValue("embedding_size", out var e) == true && !(e.ValueKind == JsonValueKind.Number && e.GetInt32() == HiddenSize))
            throw Refuse(source, "embedding_size", e.GetRawText(), $"factorised embeddings (embedding_size ≠ hidden_size = {HiddenSize}) are not implemented");
        return this;
    }

    /// <summary>Reads <c>config.json</c> (a file, or a model directory holding one) and validates it.</summary>
    public static BertConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: config.json not found", file);
        BertConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<BertConfig>(File.ReadAllText(file), ConfigJson.HuggingFace);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: invalid config.json ({e.Message})", e);
        }
        return (config ?? throw new InvalidDataException($"{file}: config.json is null")).Validate(file);
    }

    /// <summary>Writes <c>config.json</c> into <paramref name="directory"/> atomically, extra keys included.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ToJson());
    }

    public string ToJson() => JsonSerializer.Serialize(this, ConfigJson.HuggingFace);

    /// <summary>A very small BERT for unit tests.</summary>
    public static BertConfig Tiny => new()
    {
        HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64, VocabSize = 50,
        MaxPositionEmbeddings = 64, MaskTokenId = 4, TorchDtype = "float32",
    };

    static void Positive(int value, string key, string source)
    {
        if (value <= 0) throw Refuse(source, key, value, "must be positive");
    }

    static ArgumentOutOfRangeException Refuse(string source, string key, object value, string why) =>
        new(key, $"{source}: {key} = {Format(value)}: {why}");

    static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => $"\"{s}\"",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null",
    };
}
