using System.Globalization;
using System.Text.Json;

namespace OpenDllm.Config;

public sealed partial record ModelConfig
{
    /// <summary>
    /// Checks the config before anything is built; throws <see cref="ArgumentOutOfRangeException"/> whose message starts
    /// with <paramref name="source"/>, the key and its value. Three kinds of check:
    /// <list type="bullet">
    /// <item>sizes: positive, heads divisible by key/value heads, an even head size, and num_attention_heads dividing
    /// hidden_size unless head_dim is given;</item>
    /// <item>values: max_position_embeddings &gt; 0, rope_theta and rms_norm_eps finite and &gt; 0;</item>
    /// <item>settings transformers would apply but this model does not implement, refused rather than ignored
    /// (<see cref="CheckHuggingFaceSettings"/>).</item>
    /// </list>
    /// </summary>
    public ModelConfig Validate(string source = "config")
    {
        Positive(HiddenSize, "hidden_size", source);
        Positive(IntermediateSize, "intermediate_size", source);
        Positive(NumHiddenLayers, "num_hidden_layers", source);
        Positive(NumAttentionHeads, "num_attention_heads", source);
        Positive(KeyValueHeads, "num_key_value_heads", source);
        if (HeadDimOverride is null && HiddenSize % NumAttentionHeads != 0)
            throw Refuse(source, "num_attention_heads", NumAttentionHeads,
                $"does not divide hidden_size = {HiddenSize}, and there is no head_dim; give head_dim, or a head count that divides hidden_size");
        Positive(HeadDim, "head_dim", source);
        Positive(VocabSize, "vocab_size", source);
        Positive(MaxPositionEmbeddings, "max_position_embeddings", source);
        PositiveFinite(RopeTheta, RopeThetaKey, source);
        PositiveFinite(RmsNormEps, "rms_norm_eps", source);
        if (NumAttentionHeads % KeyValueHeads != 0)
            throw Refuse(source, "num_key_value_heads", KeyValueHeads, $"must divide num_attention_heads = {NumAttentionHeads}");
        if (HeadDim % 2 != 0)
            throw Refuse(source, "head_dim", HeadDim, "must be even for rotary embeddings");
        if (MaskTokenId is { } m && (m < 0 || m >= VocabSize))
            throw Refuse(source, "mask_token_id", m, $"must lie in [0, vocab_size = {VocabSize})");
        CheckHuggingFaceSettings(source);
        return this;
    }

    /// <summary>
    /// Refuses the Hugging Face settings that change transformers' Qwen2 numbers but are not implemented here (read from
    /// transformers' <c>configuration_qwen2.py</c>, <c>modeling_qwen2.py</c> and <c>modeling_rope_utils.py</c>, 4.x and 5.x):
    /// <list type="bullet">
    /// <item><c>hidden_act</c> other than silu (<c>swish</c> is the same function);</item>
    /// <item><c>use_sliding_window: true</c>, and any <c>layer_types</c> entry other than <c>full_attention</c>
    /// (5.x slides exactly the layers marked <c>sliding_attention</c>); a list whose length is not num_hidden_layers;</item>
    /// <item>RoPE other than the default: <c>rope_parameters</c> (5.x) or <c>rope_scaling</c> (4.x) with a
    /// <c>rope_type</c>/<c>type</c> other than <c>default</c>, any scaling key (<c>factor</c>, <c>beta_fast</c>, …), a
    /// per-layer-type dictionary, or a <c>rope_theta</c> in one that disagrees with the top-level key (4.x reads one,
    /// 5.x the other);</item>
    /// <item><c>partial_rotary_factor</c> ≠ 1 (4.x rotates only part of each head);</item>
    /// <item><c>attention_dropout</c> ≠ 0 (transformers applies it when training; this model has no dropout).</item>
    /// </list>
    /// </summary>
    void CheckHuggingFaceSettings(string source)
    {
        if (HiddenAct is not ("silu" or "swish"))
            throw Refuse(source, "hidden_act", HiddenAct, "only silu (SwiGLU) is implemented");
        if (UseSlidingWindow)
            throw Refuse(source, "use_sliding_window", true, "sliding-window attention is not implemented");
        if (ExtraFields is null) return;

        if (Extra("layer_types") is { } layerTypes)
        {
            if (layerTypes.ValueKind != JsonValueKind.Array)
                throw Refuse(source, "layer_types", layerTypes.GetRawText(), "expected a list of layer types");
            int i = 0;
            foreach (var item in layerTypes.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || item.GetString() != "full_attention")
                    throw Refuse(source, $"layer_types[{i}]", item.GetRawText(),
                        "only full_attention layers are implemented (sliding_attention would need sliding-window attention)");
                i++;
            }
            if (i != NumHiddenLayers)
                throw Refuse(source, "layer_types", $"{i} entries", $"must list one type per layer, and num_hidden_layers = {NumHiddenLayers}");
        }

        foreach (var key in RopeDictionaryKeys)
            if (Extra(key) is { } rope) CheckRopeDictionary(rope, key, source);

        if (Extra("partial_rotary_factor") is { } partial && !IsNumber(partial, 1.0))
            throw Refuse(source, "partial_rotary_factor", partial.GetRawText(), "partial rotary embeddings are not implemented (only 1.0)");
        if (Extra("attention_dropout") is { } dropout && !IsNumber(dropout, 0.0))
            throw Refuse(source, "attention_dropout", dropout.GetRawText(),
                "attention dropout is not implemented (transformers applies it in training); set it to 0.0");
    }

    void CheckRopeDictionary(JsonElement rope, string key, string source)
    {
        if (rope.ValueKind != JsonValueKind.Object)
            throw Refuse(source, key, rope.GetRawText(), "expected an object with rope_theta and rope_type");
        var entries = rope.EnumerateObject().ToList();
        if (entries.Count > 0 && entries.All(e => e.Value.ValueKind == JsonValueKind.Object))
            throw Refuse(source, key, string.Join(", ", entries.Select(e => e.Name)),
                "per-layer-type RoPE parameters are not implemented (Qwen2 uses one set for every layer)");
        var type = rope.TryGetProperty("rope_type", out var t) && t.ValueKind != JsonValueKind.Null ? t
            : rope.TryGetProperty("type", out var legacy) && legacy.ValueKind != JsonValueKind.Null ? legacy : (JsonElement?)null;
        if (type is { } ty && (ty.ValueKind != JsonValueKind.String || ty.GetString() != "default"))
            throw Refuse(source, $"{key}.{(rope.TryGetProperty("rope_type", out _) ? "rope_type" : "type")}", ty.GetRawText(),
                "RoPE scaling is not implemented; only \"default\" RoPE (rope_theta alone) is");
        foreach (var entry in entries)
        {
            var name = $"{key}.{entry.Name}";
            switch (entry.Name)
            {
                case "rope_type" or "type":
                    break;
                case "rope_theta":
                    if (entry.Value.ValueKind != JsonValueKind.Number)
                        throw Refuse(source, name, entry.Value.GetRawText(), "must be a positive finite number");
                    var theta = entry.Value.GetDouble();
                    PositiveFinite(theta, name, source);
                    if (theta != RopeTheta)
                        throw Refuse(source, name, theta,
                            $"disagrees with {RopeThetaKey} = {Show(RopeTheta)} (transformers 5.x reads {key}, 4.x the top-level key); keep one value");
                    break;
                case "partial_rotary_factor":
                    if (entry.Value.ValueKind != JsonValueKind.Null && !IsNumber(entry.Value, 1.0))
                        throw Refuse(source, name, entry.Value.GetRawText(), "partial rotary embeddings are not implemented (only 1.0)");
                    break;
                default:
                    if (entry.Value.ValueKind != JsonValueKind.Null)
                        throw Refuse(source, name, entry.Value.GetRawText(),
                            "RoPE scaling parameters are not implemented; only rope_theta with rope_type \"default\" is");
                    break;
            }
        }
    }

    JsonElement? Extra(string key) =>
        ExtraFields is not null && ExtraFields.TryGetValue(key, out var e) && e.ValueKind != JsonValueKind.Null ? e : null;

    static bool IsNumber(JsonElement e, double value) => e.ValueKind == JsonValueKind.Number && e.GetDouble() == value;

    static void Positive(int value, string name, string source)
    {
        if (value <= 0) throw Refuse(source, name, value, "must be positive");
    }

    static void PositiveFinite(double value, string name, string source)
    {
        if (!(value > 0) || !double.IsFinite(value)) throw Refuse(source, name, Show(value), "must be a positive finite number");
    }

    static string Show(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The one error type of <see cref="Validate"/>: "<c>source: key = value: why</c>".</summary>
    static ArgumentOutOfRangeException Refuse(string source, string key, object? value, string why) =>
        new(key, value, $"{source}: {key} = {value switch { string s => s, double d => Show(d), bool b => b ? "true" : "false", _ => value }}: {why}");
}
