using System.Text.Json.Nodes;
using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Lora;
using OpenDllm.Models;
using static OpenDllm.Tests.Lora.LoraTestModels;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>Adapters in PEFT's layout: round trip, the committed fixture (and its PyTorch logits), and refused settings.</summary>
public sealed class PeftLayoutTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-peft-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string FixtureDir => Fixture.PathOf("peft", "tiny_lora");

    static string TinyBase => Fixture.GoldenDir("tiny");

    [Fact]
    public void SaveThenLoadGivesIdenticalTensorsConfigAndLogits()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Tiny();
        var options = new LoraOptions(Rank: 4, Alpha: 12, Dropout: 0.05, TargetModules: ["q_proj", "up_proj", "down_proj"], Seed: 9);
        using var adapters = LoraAdapters.Attach(model, options);
        RandomizeB(adapters);
        PeftAdapterIO.Save(adapters, _dir, "tiny-base");

        using (var file = SafetensorsFile.Open(Path.Combine(_dir, PeftAdapterIO.WeightsFileName)))
        {
            var a = file.GetEntry("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight");
            var b = file.GetEntry("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight");
            Assert.Equal([4L, TinyConfig.HiddenSize], a.Shape);
            Assert.Equal([(long)TinyConfig.NumAttentionHeads * TinyConfig.HeadDim, 4L], b.Shape);
            Assert.Equal(2 * adapters.Entries.Count, file.Entries.Count);
        }
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, PeftAdapterConfig.FileName)))!.AsObject();
        Assert.Equal("LORA", (string?)json["peft_type"]);
        Assert.Equal(4, (int)json["r"]!);
        Assert.Equal(12, (int)json["lora_alpha"]!);
        Assert.Equal("none", (string?)json["bias"]);
        Assert.Equal("CAUSAL_LM", (string?)json["task_type"]);
        Assert.Equal("tiny-base", (string?)json["base_model_name_or_path"]);
        Assert.False((bool)json["fan_in_fan_out"]!);

        var config = PeftAdapterConfig.Load(_dir);
        Assert.Equal(options with { Seed = 0 }, config.Options);      // the seed is OpenDllm's, not part of PEFT's config

        var fresh = Tiny();
        using var loaded = PeftAdapterIO.Load(fresh, _dir);
        Assert.Equal(adapters.Entries.Select(e => e.Target.Path), loaded.Entries.Select(e => e.Target.Path));
        foreach (var ((_, mine), (_, theirs)) in adapters.Entries.Zip(loaded.Entries))
        {
            Assert.True(Fixture.Same(mine.A, theirs.A));
            Assert.True(Fixture.Same(mine.B, theirs.B));
        }
        model.eval(); fresh.eval();
        var tokens = Tokens();
        Assert.True(Fixture.Same(Logits(model, tokens), Logits(fresh, tokens)));

        var again = Path.Combine(_dir, "again");
        PeftAdapterIO.Save(loaded, again, "tiny-base");
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, PeftAdapterIO.WeightsFileName)), File.ReadAllBytes(Path.Combine(again, PeftAdapterIO.WeightsFileName)));
    }

    /// <summary>
    /// The committed adapter (PEFT's layout, written by data-scripts/make_peft_fixture.py) on the golden tiny model gives
    /// the logits PyTorch computed with PEFT's unmerged LoRA forward; saving it again gives the same tensors.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheFixtureAdapterGivesPyTorchsLogitsAndRoundTrips(bool bidirectional)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Qwen2Model.FromPretrained(TinyBase);
        model.eval();
        using var adapters = PeftAdapterIO.Load(model, FixtureDir);
        Assert.Equal(4, adapters.Options.Rank);
        Assert.Equal(2.0, adapters.Options.Scaling);
        Assert.Equal(8, adapters.Entries.Count);          // 4 targets × 2 layers
        using var expected = SafetensorsFile.Open(Path.Combine(FixtureDir, "expected.safetensors"));
        var ids = expected.Read("input_ids");
        var logits = model.forward(new ModelInput(ids, bidirectional ? AttentionPolicy.Bidirectional : AttentionPolicy.Causal)).Logits;
        Fixture.AssertClose(expected.Read(bidirectional ? "logits_bidirectional" : "logits_causal"), logits, 1e-5, "fixture logits");

        PeftAdapterIO.Save(adapters, _dir, TinyBase);
        using var original = SafetensorsFile.Open(Path.Combine(FixtureDir, PeftAdapterIO.WeightsFileName));
        using var saved = SafetensorsFile.Open(Path.Combine(_dir, PeftAdapterIO.WeightsFileName));
        Assert.Equal(original.Entries.Select(e => e.Name).Order(), saved.Entries.Select(e => e.Name).Order());
        foreach (var entry in original.Entries) Assert.True(Fixture.Same(original.Read(entry.Name), saved.Read(entry.Name)), entry.Name);
        Assert.Equal(PeftAdapterConfig.Load(FixtureDir).Options, PeftAdapterConfig.Load(_dir).Options);
    }

    /// <summary>Settings that would change the numbers and are not implemented are refused with the key and value named.</summary>
    [Theory]
    [InlineData("use_dora", "true")]
    [InlineData("use_rslora", "true")]
    [InlineData("bias", "\"all\"")]
    [InlineData("bias", "\"lora_only\"")]
    [InlineData("fan_in_fan_out", "true")]
    [InlineData("rank_pattern", "{\"q_proj\": 8}")]
    [InlineData("alpha_pattern", "{\"q_proj\": 8}")]
    [InlineData("modules_to_save", "[\"lm_head\"]")]
    [InlineData("layers_to_transform", "[0]")]
    [InlineData("target_modules", "\".*q_proj\"")]
    [InlineData("peft_type", "\"IA3\"")]
    [InlineData("some_future_option", "3")]
    public void UnsupportedSettingsAreRefusedNamingTheKey(string key, string value)
    {
        var dir = CopyFixture();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, PeftAdapterConfig.FileName)))!.AsObject();
        json[key] = JsonNode.Parse(value);
        File.WriteAllText(Path.Combine(dir, PeftAdapterConfig.FileName), json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => PeftAdapterConfig.Load(dir));
        Assert.Contains(key, e.Message);
        Assert.Contains(JsonNode.Parse(value)!.ToJsonString(), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void DefaultValuedUnknownKeysAreAcceptedAndMissingOrExtraTensorsAreRefused()
    {
        using var scope = NewDisposeScope();
        var dir = CopyFixture();
        var configPath = Path.Combine(dir, PeftAdapterConfig.FileName);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        json["some_future_option"] = null;
        json["another_one"] = false;
        File.WriteAllText(configPath, json.ToJsonString());
        Assert.Equal(4, PeftAdapterConfig.Load(dir).Options.Rank);

        // a target that the file has no tensors for
        json["target_modules"] = new JsonArray("q_proj", "v_proj", "o_proj", "down_proj", "up_proj");
        File.WriteAllText(configPath, json.ToJsonString());
        var model = Qwen2Model.FromPretrained(TinyBase);
        var missing = Assert.Throws<InvalidDataException>(() => PeftAdapterIO.Load(model, dir));
        Assert.Contains("up_proj.lora_A.weight", missing.Message);
        Assert.All(LoraTargets.Enumerate(model), t => Assert.Null(t.Host.GetAdapter(t.Name)));   // nothing left attached

        // tensors the config does not target
        json["target_modules"] = new JsonArray("q_proj", "v_proj", "o_proj");
        File.WriteAllText(configPath, json.ToJsonString());
        var extra = Assert.Throws<InvalidDataException>(() => PeftAdapterIO.Load(Qwen2Model.FromPretrained(TinyBase), dir));
        Assert.Contains("down_proj", extra.Message);

        // a rank that disagrees with the tensors
        json["target_modules"] = new JsonArray("q_proj", "v_proj", "o_proj", "down_proj");
        json["r"] = 8;
        File.WriteAllText(configPath, json.ToJsonString());
        var shape = Assert.Throws<InvalidDataException>(() => PeftAdapterIO.Load(Qwen2Model.FromPretrained(TinyBase), dir));
        Assert.Contains("shape", shape.Message);
    }

    string CopyFixture()
    {
        var dir = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { PeftAdapterConfig.FileName, PeftAdapterIO.WeightsFileName })
            File.Copy(Path.Combine(FixtureDir, name), Path.Combine(dir, name));
        return dir;
    }
}
