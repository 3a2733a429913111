using OpenDllm.Config;
using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

public class Qwen2StateDictTests
{
    /// <summary>
    /// Builds Qwen2.5-Coder-0.5B on the meta device (no weights allocated) and compares `name: [shape]` with the
    /// listing the PyTorch reference produced (data-scripts/make_golden_fixtures.py), by plain string equality.
    /// </summary>
    [Fact]
    public void Qwen2_5_Coder_0_5B_ParameterListingMatchesReference()
    {
        var model = new Qwen2Model(ModelConfig.Qwen2_5_Coder_0_5B, device: new Device(DeviceType.META));
        var listing = model.state_dict()
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key}: [{string.Join(", ", kv.Value.shape)}]");
        var expected = File.ReadAllLines(Fixture.PathOf("qwen2.5-coder-0.5b.state_dict.txt"));
        Assert.Equal(expected, listing);
        Assert.Equal(494_032_768, model.ParameterCount);
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
    }

    [Fact]
    public void TiedModelHasNoLmHeadAndUntiedModelHasOne()
    {
        using var scope = NewDisposeScope();
        var tied = new Qwen2Model(ModelConfig.Tiny);
        var untied = new Qwen2Model(ModelConfig.Tiny with { TieWordEmbeddings = false });
        Assert.DoesNotContain("lm_head.weight", tied.state_dict().Keys);
        Assert.Contains("lm_head.weight", untied.state_dict().Keys);
        Assert.Equal(untied.state_dict().Count, tied.state_dict().Count + 1);
    }

    [Fact]
    public void InitializationIsReproducibleFromTheSeed()
    {
        using var scope = NewDisposeScope();
        var a = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 5);
        var b = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 5);
        var c = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 6);
        foreach (var (name, p) in a.state_dict())
            Assert.True(p.eq(b.state_dict()[name]).all().item<bool>(), name);
        Assert.False(a.state_dict()["model.embed_tokens.weight"].eq(c.state_dict()["model.embed_tokens.weight"]).all().item<bool>());
    }
}
