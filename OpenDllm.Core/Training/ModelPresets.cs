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
                if (GrownVocabSize(section, dir) is { } grownVocab)
                {
                    var grown = VocabGrowth.Grow(model, grownVocab, seed, section.InitStd);
                    if (!ReferenceEquals(grown, model)) { model.Dispose(); model = grown; }
                }
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

    /// <summary>
    /// The <c>model.config.vocab_size</c> an <c>init_from</c> model grows to (<see cref="VocabGrowth"/>: new rows = the mean
    /// of the old ones plus seeded N(0, init_std²) noise), or null when the recipe gives none. Smaller than the checkpoint's is
    /// an error naming both sizes; any other <c>model.config</c> key with <c>init_from</c> is refused (the checkpoint fixes
    /// the architecture), never ignored.
    /// </summary>
    public static int? GrownVocabSize(ModelSection section, string initFrom)
    {
        if (section.Config is not { } config) return null;
        if (config.Select(kv => kv.Key).FirstOrDefault(k => k != "vocab_size") is { } other)
            throw new ArgumentException($"model.config.{other}: with model.init_from ({initFrom}) the checkpoint's config.json fixes the " +
                                        "architecture; only model.config.vocab_size (to add token rows) is read, remove the rest");
        if (config["vocab_size"] is not { } node) return null;
        int vocab;
        try { vocab = node.GetValue<int>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new ArgumentException($"model.config.vocab_size = {node.ToJsonString()}: expected a whole number"); }
        int saved = PretrainedModels.VocabSize(initFrom)
                    ?? throw new ArgumentException($"{initFrom}: config.json has no vocab_size, so model.config.vocab_size cannot grow it");
        if (vocab < saved)
            throw new ArgumentOutOfRangeException("model.config.vocab_size", vocab,
                $"model.config.vocab_size = {vocab} is smaller than the vocab_size {saved} of model.init_from {initFrom}; a vocabulary can only grow");
        return vocab;
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
            if (GrownVocabSize(section, dir) is { } grownVocab) loaded = loaded with { VocabSize = grownVocab };
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
