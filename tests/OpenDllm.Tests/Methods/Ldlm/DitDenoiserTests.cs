using OpenDllm.Methods.Ldlm;
using OpenDllm.Modules.Dit;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>The DiT denoiser of LDLM (SPEC §6.1 item 3, §6.6): adaLN-Zero start, and dependence on t and the self-condition.</summary>
public sealed class DitDenoiserTests
{
    static readonly LdlmArchitecture Arch = LdlmTestArchitecture.Small;

    static DitDenoiser Denoiser(int seed = 3)
    {
        var denoiser = new LdlmModules(Arch, seed).Denoiser;
        denoiser.eval();
        return denoiser;
    }

    static Tensor Latents(Generator g, long batch = 2) => randn([batch, Arch.Latents, Arch.LatentDim], generator: g);

    [Fact]
    public void AtInitialisationThePredictionIsZero()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(1);
        var denoiser = Denoiser();
        var x0 = denoiser.PredictX0(Latents(g), tensor(new[] { 0.1f, 0.9f }), Latents(g));
        Assert.Equal(0f, x0.abs().max().item<float>());
        Assert.Equal(0f, denoiser.OutputProjection.weight!.abs().max().item<float>());
    }

    [Fact]
    public void OnceTrainedAwayFromZeroThePredictionDependsOnTimeAndSelfCondition()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(2);
        var denoiser = Denoiser();
        using (no_grad()) foreach (var p in denoiser.parameters()) p.add_(randn(p.shape, generator: g) * 0.1);
        var z = Latents(g);
        var sc = Latents(g);
        var t = tensor(new[] { 0.3f, 0.3f });
        var reference = denoiser.PredictX0(z, t, sc);
        Assert.True(reference.abs().max().item<float>() > 1e-3);
        Assert.False(reference.allclose(denoiser.PredictX0(z, tensor(new[] { 0.7f, 0.7f }), sc), rtol: 0, atol: 1e-4));
        Assert.False(reference.allclose(denoiser.PredictX0(z, t, zeros_like(sc)), rtol: 0, atol: 1e-4));
        Assert.False(reference.allclose(denoiser.PredictX0(z + 0.5, t, sc), rtol: 0, atol: 1e-4));
        // rows are independent: row 0 does not see row 1
        var other = denoiser.PredictX0(cat([z.narrow(0, 0, 1), Latents(g, 1)]), t, cat([sc.narrow(0, 0, 1), Latents(g, 1)]));
        Assert.True(reference.narrow(0, 0, 1).allclose(other.narrow(0, 0, 1), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void EachBlockStartsAsTheIdentity()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(4);
        var block = new DitBlock(32, 4, 2, 0, 1e-6);
        var x = randn([2, 3, 32], generator: g);
        Assert.True(Fixture.Same(block.forward(x, randn([2, 32], generator: g)), x));
    }

    [Fact]
    public void TimeFeaturesAreCosinesThenSinesOfScaledTime()
    {
        using var scope = NewDisposeScope();
        var embedding = new TimestepEmbedding(8, features: 4);
        var phi = embedding.Features(tensor(new[] { 0.5f }));
        // ω = 1000·10000^(−i/2), i = 0, 1: s·ω = 500, 5
        var expected = tensor(new[] { MathF.Cos(500f), MathF.Cos(5f), MathF.Sin(500f), MathF.Sin(5f) }).unsqueeze(0);
        Assert.True(phi.allclose(expected, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void WrongShapesAreRefused()
    {
        using var scope = NewDisposeScope();
        var denoiser = Denoiser();
        var z = zeros(2, Arch.Latents, Arch.LatentDim);
        Assert.Throws<ArgumentException>(() => denoiser.PredictX0(z, zeros(3), z));
        Assert.Throws<ArgumentException>(() => denoiser.PredictX0(z, zeros(2), zeros(2, Arch.Latents, Arch.LatentDim + 1)));
    }
}
