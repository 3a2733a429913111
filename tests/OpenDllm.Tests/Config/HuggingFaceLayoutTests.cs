using System.Text.Json.Nodes;
using OpenDllm.Config;

namespace OpenDllm.Tests.Config;

/// <summary>
/// config.json as transformers 5.x and 4.x write it (fixtures made by data-scripts/make_hf_layout_fixtures.py): both bind
/// to the same numbers, and every setting that would change transformers' numbers but is not implemented is an error
/// naming the key and its value.
/// </summary>
public sealed class HuggingFaceLayoutTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-hfconfig-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    public static string LayoutDir(string name) => Fixture.PathOf("hf_layouts", name);

    [Fact]
    public void Transformers5LayoutReadsRopeThetaFromRopeParameters()
    {
        var config = ModelConfig.Load(LayoutDir("v5_tied_gqa"));
        Assert.Equal(500000.0, config.RopeTheta);                     // not the 10000 default
        Assert.Equal("rope_parameters.rope_theta", config.RopeThetaKey);
        Assert.Equal("float32", config.Dtype);
        Assert.Equal("float32", config.StoredDtype);
        Assert.Null(config.TorchDtype);
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal(2, config.KeyValueHeads);
        Assert.Null(config.EosTokenIds);
        Assert.Empty(config.UnknownKeys);                             // rope_parameters, dtype, layer_types are understood
    }

    [Fact]
    public void Transformers4LayoutReadsTheTopLevelKeys()
    {
        var config = ModelConfig.Load(LayoutDir("v4_untied_gqa"));
        Assert.Equal(1e6, config.RopeTheta);
        Assert.Equal("rope_theta", config.RopeThetaKey);
        Assert.Equal("float32", config.StoredDtype);
        Assert.False(config.TieWordEmbeddings);
        Assert.Empty(config.UnknownKeys);
    }

    [Fact]
    public void SavingA5LayoutConfigKeepsBothKeysConsistent()
    {
        var config = ModelConfig.Load(LayoutDir("v5_bf16_mha"));
        config.Save(_dir);
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        Assert.Equal(250000.0, saved["rope_theta"]!.GetValue<double>());
        Assert.Equal(250000.0, saved["rope_parameters"]!["rope_theta"]!.GetValue<double>());
        Assert.Equal(250000.0, ModelConfig.Load(_dir).RopeTheta);
    }

    [Fact]
    public void EosTokenIdMayBeAList()
    {
        var config = LoadEdited("v5_tied_gqa", c => c["eos_token_id"] = new JsonArray(5, 7));
        Assert.Equal([5, 7], config.EosTokenIds!);
        Assert.Equal(2, JsonNode.Parse(config.ToJson())!["eos_token_id"]!.AsArray().Count);
        Assert.Equal([3], LoadEdited("v5_tied_gqa", c => c["eos_token_id"] = 3).EosTokenIds!);
    }

    [Fact]
    public void DefaultRopeTypesAreAccepted()
    {
        Assert.Equal(500000.0, LoadEdited("v5_tied_gqa", c => c["rope_parameters"] = Obj(("rope_type", "default"), ("rope_theta", 500000.0))).RopeTheta);
        Assert.Equal(1e6, LoadEdited("v4_untied_gqa", c => c["rope_scaling"] = Obj(("type", "default"))).RopeTheta);
        Assert.Equal(1e6, LoadEdited("v4_untied_gqa", c => c["rope_scaling"] = new JsonObject()).RopeTheta);
        Assert.Equal(500000.0, LoadEdited("v5_tied_gqa", c => c["rope_parameters"] =
            Obj(("rope_type", "default"), ("rope_theta", 500000.0), ("partial_rotary_factor", null), ("factor", null))).RopeTheta);
        // no RoPE key at all: transformers' default base
        Assert.Equal(ModelConfig.DefaultRopeTheta, LoadEdited("v5_tied_gqa", c => c.Remove("rope_parameters")).RopeTheta);
        // both layouts at once, agreeing
        Assert.Equal(500000.0, LoadEdited("v5_tied_gqa", c => c["rope_theta"] = 500000.0).RopeTheta);
    }

    /// <summary>Each row failed to raise on the code before this change (it loaded and ran with other numbers).</summary>
    [Theory]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 500000.0}", "rope_parameters.rope_type = \"linear\"")]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 64, \"rope_theta\": 500000.0}", "rope_parameters.rope_type = \"yarn\"")]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"rope_type\": \"default\", \"factor\": 4.0, \"rope_theta\": 500000.0}", "rope_parameters.factor = 4.0")]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}}", "rope_parameters = full_attention")]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 0}", "rope_parameters.rope_theta = 0")]
    [InlineData("v5_tied_gqa", "rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 500000.0, \"partial_rotary_factor\": 0.5}", "rope_parameters.partial_rotary_factor = 0.5")]
    [InlineData("v4_untied_gqa", "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}", "rope_scaling.type = \"linear\"")]
    [InlineData("v4_untied_gqa", "rope_scaling", "{\"rope_type\": \"dynamic\", \"factor\": 2.0}", "rope_scaling.rope_type = \"dynamic\"")]
    [InlineData("v4_untied_gqa", "rope_theta", "0", "rope_theta = 0")]
    [InlineData("v4_untied_gqa", "rope_theta", "\"NaN\"", "rope_theta = NaN")]
    [InlineData("v4_untied_gqa", "rope_theta", "-1e4", "rope_theta = -10000")]
    [InlineData("v5_tied_gqa", "rope_theta", "10000.0", "rope_parameters.rope_theta = 500000: disagrees with rope_theta = 10000")]
    [InlineData("v4_untied_gqa", "partial_rotary_factor", "0.5", "partial_rotary_factor = 0.5")]
    [InlineData("v5_tied_gqa", "layer_types", "[\"full_attention\", \"sliding_attention\"]", "layer_types[1] = \"sliding_attention\"")]
    [InlineData("v5_tied_gqa", "layer_types", "[\"full_attention\"]", "layer_types = 1 entries")]
    [InlineData("v5_tied_gqa", "use_sliding_window", "true", "use_sliding_window = true")]
    [InlineData("v5_tied_gqa", "max_position_embeddings", "0", "max_position_embeddings = 0")]
    [InlineData("v5_tied_gqa", "max_position_embeddings", "-5", "max_position_embeddings = -5")]
    [InlineData("v5_tied_gqa", "rms_norm_eps", "-1", "rms_norm_eps = -1")]
    [InlineData("v5_tied_gqa", "rms_norm_eps", "0", "rms_norm_eps = 0")]
    [InlineData("v5_tied_gqa", "rms_norm_eps", "\"NaN\"", "rms_norm_eps = NaN")]
    [InlineData("v5_tied_gqa", "hidden_act", "\"gelu\"", "hidden_act = gelu")]
    [InlineData("v5_tied_gqa", "attention_dropout", "0.1", "attention_dropout = 0.1")]
    [InlineData("v5_tied_gqa", "hidden_size", "30", "num_attention_heads = 4: does not divide hidden_size = 30")]
    [InlineData("v5_tied_gqa", "hidden_size", "34", "num_attention_heads = 4: does not divide hidden_size = 34")]
    public void UnimplementedSettingsAndBadValuesAreErrorsNamingTheKey(string fixture, string key, string json, string expected)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => LoadEdited(fixture, c => c[key] = JsonNode.Parse(json)));
        var firstLine = error.Message.Split('\n')[0];
        Assert.Contains(Path.Combine(_dir, "config.json"), firstLine);
        Assert.Contains(expected, firstLine);
    }

    [Fact]
    public void HeadsNotDividingHiddenAreFineWithAnExplicitHeadDim()
    {
        var config = LoadEdited("v5_tied_gqa", c => { c["hidden_size"] = 30; c["head_dim"] = 8; });
        Assert.Equal(8, config.HeadDim);
    }

    [Fact]
    public void ShiftedLogitsAreInferredForCausalLmFilesAndRecordWhereTheyCameFrom()
    {
        var inferred = ModelConfig.Load(LayoutDir("v5_tied_gqa"));
        Assert.True(inferred.IsShifted);
        Assert.Null(inferred.ShiftedLogits);                                        // not written back on save
        Assert.Equal(ShiftedLogitsSource.Architectures, inferred.ShiftedSource);
        Assert.Equal("inferred: Qwen2ForCausalLM without shifted_logits", inferred.ShiftedOrigin);
        Assert.DoesNotContain("shifted_logits", inferred.ToJson());

        var explicitFalse = LoadEdited("v5_tied_gqa", c => c["shifted_logits"] = false);
        Assert.False(explicitFalse.IsShifted);                                       // the key wins
        Assert.Equal(ShiftedLogitsSource.ConfigKey, explicitFalse.ShiftedSource);

        var dream = LoadEdited("v5_tied_gqa", c => c["architectures"] = new JsonArray("DreamModel"));
        Assert.False(dream.IsShifted);
        Assert.Equal(ShiftedLogitsSource.Default, dream.ShiftedSource);

        Assert.False(ModelConfig.Tiny.IsShifted);                                    // configs built in code stay unshifted
        Assert.Equal(ShiftedLogitsSource.Default, ModelConfig.Tiny.ShiftedSource);

        var overridden = inferred.WithShiftedLogitsOverride(false);
        Assert.False(overridden.IsShifted);
        Assert.Equal(ShiftedLogitsSource.Override, overridden.ShiftedSource);
    }

    [Fact]
    public void AConfigThatIsADirectoryIsNamed()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "config.json"));
        var error = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(_dir));
        Assert.Contains("is a directory", error.Message);
    }

    ModelConfig LoadEdited(string fixture, Action<JsonObject> edit)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(LayoutDir(fixture), "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        return ModelConfig.Load(_dir);
    }

    static JsonObject Obj(params (string Key, JsonNode? Value)[] items)
    {
        var o = new JsonObject();
        foreach (var (key, value) in items) o[key] = value;
        return o;
    }
}
