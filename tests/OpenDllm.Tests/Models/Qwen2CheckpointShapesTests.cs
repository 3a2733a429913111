using System.Text.Json.Nodes;
using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Tests.Config;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>
/// The config is compared with the safetensors headers before the model is built: a config that disagrees with a tiny
/// checkpoint is refused naming the field, without allocating what the config describes. Also: NaN weights, a stray tied
/// head, and the rope_theta sensitivity of the transformers-layout fixtures.
/// </summary>
public sealed class Qwen2CheckpointShapesTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-shapes-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, null)]
    [InlineData(false, 24)]
    public void ExpectedTensorsAreExactlyTheModulesStateDict(bool tied, int? headDim)
    {
        using var scope = NewDisposeScope();
        var config = ModelConfig.Tiny with { TieWordEmbeddings = tied, HeadDimOverride = headDim, NumKeyValueHeads = 1 };
        using var model = new Qwen2Model(config);
        var state = model.state_dict()
            .Where(kv => !(tied && kv.Key == "lm_head.weight"))
            .Select(kv => (kv.Key, Shape: string.Join(",", kv.Value.shape))).ToList();
        var expected = Qwen2CheckpointShapes.Expected(config).Select(e => (e.Name, Shape: string.Join(",", e.Shape))).ToList();
        Assert.Equal(state.OrderBy(s => s.Key, StringComparer.Ordinal), expected.OrderBy(e => e.Name, StringComparer.Ordinal));
        Assert.Equal(model.ParameterCount, (long)Qwen2CheckpointShapes.ParameterCount(config));
    }

    /// <summary>At full size, against the listing the PyTorch reference made for Qwen2.5-Coder-0.5B (make_golden_fixtures.py).</summary>
    [Fact]
    public void ExpectedTensorsMatchTheReferenceListingOfQwen2_5_Coder_0_5B()
    {
        var config = ModelConfig.Qwen2_5_Coder_0_5B;
        var listing = Qwen2CheckpointShapes.Expected(config)
            .Select(e => $"{e.Name}: [{string.Join(", ", e.Shape)}]").Order(StringComparer.Ordinal);
        Assert.Equal(File.ReadAllLines(Fixture.PathOf("qwen2.5-coder-0.5b.state_dict.txt")), listing);
        Assert.Equal(494_032_768L, (long)Qwen2CheckpointShapes.ParameterCount(config));
    }

    /// <summary>
    /// Each row failed differently on the code before this change: 8192 allocated 1.76 GB before the shape error (which did
    /// not name hidden_size), 2^31 − 1 layers threw OutOfMemoryException, 1048576 failed inside libtorch asking for 4 TiB.
    /// </summary>
    [Theory]
    [InlineData("hidden_size", 8192, "hidden_size = 8192 does not fit model.embed_tokens.weight [300, 64], which implies 64")]
    [InlineData("hidden_size", 1048576, "hidden_size = 1048576 does not fit model.embed_tokens.weight [300, 64]")]
    [InlineData("num_hidden_layers", 2147483647, "num_hidden_layers = 2147483647, but the checkpoint holds 2 layers")]
    [InlineData("vocab_size", 5000, "vocab_size = 5000 does not fit model.embed_tokens.weight [300, 64], which implies 300")]
    [InlineData("intermediate_size", 100000, "intermediate_size = 100000 does not fit model.layers.0.mlp.gate_proj.weight [176, 64]")]
    [InlineData("num_key_value_heads", 4, "num_key_value_heads × head_dim = 4 × 16 = 64 does not fit model.layers.0.self_attn.k_proj.weight [32, 64]")]
    [InlineData("tie_word_embeddings", false, "tie_word_embeddings = false, but the checkpoint has no lm_head.weight")]
    public void AConfigThatDisagreesWithTheHeadersIsRefusedNamingTheField(string key, object value, string expected)
    {
        CopyGoldenTiny(c => c[key] = value switch { bool b => JsonValue.Create(b), _ => JsonValue.Create(Convert.ToInt32(value)) });
        var error = Assert.Throws<CheckpointMismatchException>(() => Qwen2Model.FromPretrained(_dir));
        var firstLine = error.Message.Split('\n')[0];
        Assert.Contains(Path.Combine(_dir, "config.json"), firstLine);
        Assert.Contains(expected, firstLine);
    }

    [Fact]
    public void AbsurdSizesAreRefusedByTheHeaderCheckBeforeAnyAllocation()
    {
        // Called directly: the check reads headers only, so it cannot allocate what the config describes.
        CopyGoldenTiny(c => c["num_hidden_layers"] = int.MaxValue);
        var config = ModelConfig.Load(_dir);
        using var checkpoint = SafetensorsCheckpoint.Open(_dir);
        var error = Assert.Throws<CheckpointMismatchException>(() => Qwen2CheckpointShapes.Check(config, checkpoint));
        Assert.Contains("num_hidden_layers = 2147483647", error.Message);
        Assert.Contains("parameters; the checkpoint holds", error.Message);
        Assert.Empty(error.Missing);                                        // 2^31 layers were never enumerated
    }

    [Fact]
    public void ANanWeightIsAnErrorNamingTheTensor()
    {
        using var scope = NewDisposeScope();
        CopyGoldenTiny(_ => { });
        var path = Path.Combine(_dir, "model.safetensors");
        List<(string, Tensor)> tensors;
        using (var checkpoint = SafetensorsCheckpoint.Open(_dir))
            tensors = checkpoint.Names.Select(n => (n, checkpoint.Read(n))).ToList();
        var poisoned = tensors.Single(t => t.Item1 == "model.layers.1.mlp.up_proj.weight").Item2;
        poisoned[3, 5] = tensor(float.NaN);
        poisoned[4, 5] = tensor(float.PositiveInfinity);
        File.Delete(path);
        SafetensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        var error = Assert.Throws<InvalidDataException>(() => Qwen2Model.FromPretrained(_dir));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", error.Message);
        Assert.Contains("2 non-finite value(s)", error.Message);
    }

    [Fact]
    public void AStrayTiedHeadMustEqualTheEmbeddings()
    {
        using var scope = NewDisposeScope();
        CopyGoldenTiny(_ => { });
        var path = Path.Combine(_dir, "model.safetensors");
        List<(string, Tensor)> tensors;
        using (var checkpoint = SafetensorsCheckpoint.Open(_dir))
            tensors = checkpoint.Names.Select(n => (n, checkpoint.Read(n))).ToList();
        var embedding = tensors.Single(t => t.Item1 == "model.embed_tokens.weight").Item2;

        File.Delete(path);
        SafetensorsWriter.Save(path, [.. tensors, ("lm_head.weight", embedding.clone())]);
        Qwen2Model.FromPretrained(_dir).Dispose();                          // an identical copy is what HF 4.x and 5.x agree on

        File.Delete(path);
        SafetensorsWriter.Save(path, [.. tensors, ("lm_head.weight", embedding * 1.5)]);
        var error = Assert.Throws<InvalidDataException>(() => Qwen2Model.FromPretrained(_dir));
        Assert.Contains("tie_word_embeddings is true, but the checkpoint's lm_head.weight differs", error.Message);
    }

    /// <summary>The fixtures' rope_theta matters: the 10000 default would move the logits far beyond the 1e-5 tolerance.</summary>
    [Theory]
    [InlineData("v5_tied_gqa")]
    [InlineData("v4_untied_gqa")]
    [InlineData("v5_bf16_mha")]
    public void TheLayoutFixturesCatchAWrongRopeTheta(string name)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var dir = HuggingFaceLayoutTests.LayoutDir(name);
        using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        var ids = InspectIds(dir);
        using var right = Qwen2Model.FromPretrained(dir);
        Fixture.AssertClose(golden.Read("logits_bidirectional"), right.Logits(ids, AttentionPolicy.Bidirectional), 1e-5, name);

        var loaded = ModelConfig.Load(dir);
        var extra = new Dictionary<string, System.Text.Json.JsonElement>(loaded.ExtraFields!);
        extra.Remove("rope_parameters");
        using var wrong = new Qwen2Model(loaded with { RopeTheta = ModelConfig.DefaultRopeTheta, ExtraFields = extra });
        StateDictIO.Load(wrong, dir, new StateDictLoadOptions { IgnoredCheckpointKeys = loaded.TieWordEmbeddings ? ["lm_head.weight"] : [] });
        var diff = Fixture.MaxAbsDiff(golden.Read("logits_bidirectional"), wrong.Logits(ids, AttentionPolicy.Bidirectional));
        Assert.True(diff > 1e-3, $"{name}: rope_theta 10000 changes the logits by only {diff:E2}");
    }

    static Tensor InspectIds(string dir)
    {
        var rows = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "inputs.json")))!["input_ids"]!.AsArray()
            .Select(r => r!.AsArray().Select(v => v!.GetValue<long>()).ToArray()).ToArray();
        return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
    }

    void CopyGoldenTiny(Action<JsonObject> edit)
    {
        var source = Fixture.GoldenDir("tiny");
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(_dir, "model.safetensors"), overwrite: true);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
    }
}
