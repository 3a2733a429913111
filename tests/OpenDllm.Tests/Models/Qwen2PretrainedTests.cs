using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Config;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

public sealed class Qwen2PretrainedTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-pretrained-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, 20_000L)]
    public void SaveThenLoadGivesTheSameLogits(bool tied, long? maxShardBytes)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = new Qwen2Model(ModelConfig.Tiny with { TieWordEmbeddings = tied }).InitializeWeights(seed: 2);
        model.SavePretrained(_dir, maxShardBytes: maxShardBytes);
        Assert.Equal(maxShardBytes is not null, File.Exists(Path.Combine(_dir, "model.safetensors.index.json")));
        using (var checkpoint = SafetensorsCheckpoint.Open(_dir))
            Assert.Equal(!tied, checkpoint.Contains("lm_head.weight"));   // HF omits a tied head
        var loaded = Qwen2Model.FromPretrained(_dir);
        var ids = arange(10).unsqueeze(0);
        Assert.True(Fixture.Same(model.Logits(ids, AttentionPolicy.Bidirectional), loaded.Logits(ids, AttentionPolicy.Bidirectional)));
    }

    [Fact]
    public void Bfloat16CheckpointLoadsExactlyIntoFloat32()
    {
        using var scope = NewDisposeScope();
        var model = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 3);
        model.SavePretrained(_dir, dtype: ScalarType.BFloat16);
        Assert.Equal("bfloat16", ModelConfig.Load(_dir).TorchDtype);
        var loaded = Qwen2Model.FromPretrained(_dir);
        foreach (var (name, p) in model.state_dict())
        {
            var rounded = p.to(ScalarType.BFloat16).to(ScalarType.Float32);
            Assert.True(Fixture.Same(rounded, loaded.state_dict()[name]), name);             // bf16 → fp32 is exact
        }
        // and back: fp32 holding bf16 values saves as the same bf16 bits
        var again = Path.Combine(_dir, "again");
        loaded.SavePretrained(again, dtype: ScalarType.BFloat16);
        using var a = SafetensorsCheckpoint.Open(_dir);
        using var b = SafetensorsCheckpoint.Open(again);
        foreach (var name in a.Names)
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), name);
    }

    [Fact]
    public void WrongShapesAndStrayKeysAreListedInTheError()
    {
        using var scope = NewDisposeScope();
        new Qwen2Model(ModelConfig.Tiny with { IntermediateSize = 48 }).SavePretrained(_dir);
        ModelConfig.Tiny.Save(_dir);          // config now disagrees with the weights
        var error = Assert.Throws<CheckpointMismatchException>(() => Qwen2Model.FromPretrained(_dir));
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", error.Message);
        Assert.Contains(_dir, error.Message);
    }
}
