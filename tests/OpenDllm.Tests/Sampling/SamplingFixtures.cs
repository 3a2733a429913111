using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>Denoisers the sampler tests share: the golden tiny model (shifted, mask 299) and a random tiny model.</summary>
public static class SamplingFixtures
{
    static readonly Lazy<Qwen2Model> Golden = new(() => Qwen2Model.FromPretrained(Fixture.GoldenDir("tiny")));

    /// <summary>The golden tiny model as the reference sampler uses it: [MASK] = 299, logits shifted.</summary>
    public static IDenoiser GoldenTiny() => new ModelDenoiser(Golden.Value, maskId: 299, shiftedLogits: true);

    static readonly Lazy<Qwen2Model> Random = new(() =>
        new Qwen2Model(ModelConfig.Tiny with { MaskTokenId = 98 }).InitializeWeights(seed: 21, std: 0.3));

    /// <summary>A random tiny model with sharp logits; vocab 99, [MASK] = 98, unshifted unless asked.</summary>
    public static IDenoiser RandomTiny(bool shifted = false) => new ModelDenoiser(Random.Value, 98, shifted);

    public static long[][] Rows(Tensor t)
    {
        var flat = t.data<long>().ToArray();
        int cols = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }
}
