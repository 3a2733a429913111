using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>Builds the model a recipe asks for: from a Hugging Face directory, or from a preset plus config overrides.</summary>
public static class ModelPresets
{
    public static readonly IReadOnlyList<string> Names = ["tiny", "quickstart", "bench", "qwen2.5-coder-0.5b"];

    /// <summary>
    /// The preset's config.json fields. <c>quickstart</c> and <c>bench</c> are the bench_ref.py model (hidden 256,
    /// intermediate 704, 4 layers, 4 heads, 2 KV heads, rope_theta 1e6, tied); their vocab comes from the tokenizer / 4096.
    /// </summary>
    public static JsonObject Fields(string name) => name switch
    {
        "tiny" => (JsonObject)JsonNode.Parse(ModelConfig.Tiny.ToJson())!,
        "qwen2.5-coder-0.5b" => (JsonObject)JsonNode.Parse(ModelConfig.Qwen2_5_Coder_0_5B.ToJson())!,
        "quickstart" or "bench" => new JsonObject
        {
            ["hidden_size"] = 256, ["intermediate_size"] = 704, ["num_hidden_layers"] = 4, ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2, ["rope_theta"] = 1e6, ["rms_norm_eps"] = 1e-6, ["tie_word_embeddings"] = true,
            ["max_position_embeddings"] = 4096, ["torch_dtype"] = "float32", ["vocab_size"] = name == "bench" ? 4096 : null,
        },
        _ => throw new ArgumentException($"unknown model preset '{name}'; valid presets: {string.Join(", ", Names)}"),
    };

    /// <summary>The model of <paramref name="section"/>, with the tokenizer's mask id and vocab size filled in.</summary>
    /// <remarks><c>model.init_from</c> loads any architecture <see cref="PretrainedModels"/> knows (its config.json's
    /// <c>model_type</c>). Its logits stay shifted unless <c>model.shifted_logits</c> says otherwise when it is a causal LM
    /// (an AR checkpoint keeps its next-token alignment, SPEC §2.3); an encoder (BERT) predicts each position's own token,
    /// so it is unshifted by default.</remarks>
    public static LanguageModel Build(ModelSection section, ITokenizer tokenizer, Device device, long seed)
    {
        if (section.InitFrom is { } dir)
        {
            var model = PretrainedModels.Load(dir, device, initSeed: seed);
            try
            {
                if (tokenizer.Special.Mask >= model.VocabSize)
                    throw new ArgumentException($"{dir}: the tokenizer's mask id {tokenizer.Special.Mask} does not fit vocab_size {model.VocabSize}");
                if (section.RandomInit) model.InitializeWeights(seed, section.InitStd);      // the architecture only
                return model.WithDiffusionSettings(tokenizer.Special.Mask, section.ShiftedLogits ?? DefaultShifted(model.ModelType));
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return new Qwen2Model(Config(section, tokenizer), device).InitializeWeights(seed, section.InitStd);
    }

    /// <summary>Whether an <c>init_from</c> checkpoint of <paramref name="modelType"/> is shifted when the recipe does not say:
    /// causal LMs (qwen2) yes, encoders (bert) no.</summary>
    public static bool DefaultShifted(string modelType) => modelType != "bert";

    /// <summary>
    /// The config of the model <see cref="Build"/> makes, without allocating it (for checks before training starts):
    /// <c>init_from</c>'s config.json, or the preset with <c>model.config</c> applied, the tokenizer's ids filled in.
    /// </summary>
    public static ModelConfig Config(ModelSection section, ITokenizer tokenizer)
    {
        if (section.InitFrom is { } dir)
        {
            var loaded = ModelConfig.Load(dir);
            return loaded with { MaskTokenId = tokenizer.Special.Mask < loaded.VocabSize ? tokenizer.Special.Mask : loaded.MaskTokenId,
                                 ShiftedLogits = section.ShiftedLogits ?? true };
        }
        var fields = section.Preset is { } p ? Fields(p) : new JsonObject();
        foreach (var (key, value) in section.Config ?? [])
            fields[key] = value?.DeepClone();
        if (fields["vocab_size"] is null) fields["vocab_size"] = tokenizer.VocabSize;
        fields["mask_token_id"] = tokenizer.Special.Mask;
        fields["shifted_logits"] = section.ShiftedLogits ?? false;
        var config = fields.Deserialize<ModelConfig>(ConfigJson.HuggingFace)!.Validate("model");
        if (config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentOutOfRangeException("model.config.vocab_size", config.VocabSize,
                $"model vocab_size {config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize}");
        return config;
    }
}
