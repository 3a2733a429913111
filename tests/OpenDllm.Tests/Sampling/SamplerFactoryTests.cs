using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

public class SamplerFactoryTests
{
    [Fact]
    public void EveryNamedSamplerFillsACanvas()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3, 4]], 8, denoiser.MaskId, 97);
        foreach (var name in SamplerFactory.Names)
        {
            var sampler = SamplerFactory.Create(name, new SamplerSettings { Steps = 8, BlockLength = 4 });
            var output = sampler.Sample(denoiser, canvas);
            Assert.False(output.Sequences.eq(denoiser.MaskId).any().item<bool>(), name);
            Assert.True(output.Forwards > 0, name);
        }
    }

    [Fact]
    public void UnknownNameListsTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => SamplerFactory.Create("maskgit"));
        Assert.Contains("maskgit_plus", error.Message);
        Assert.Contains("fast-dllm", error.Message);
    }
}
