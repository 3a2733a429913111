using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Models;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>
/// Gradients through LDLM's autoencoder path (SPEC §6.1, §6.3): from a frozen tiny Qwen2's hidden states through the
/// Perceiver encoder, decoder and token decoder, every trained parameter on the path gets a non-zero gradient and the
/// frozen LM gets none.
/// </summary>
public sealed class LdlmGradientTests
{
    [Fact]
    public void EveryModuleOnThePathLearnsAndTheFrozenLmDoesNot()
    {
        var arch = LdlmTestArchitecture.Small;
        using var lm = new Qwen2Model(ModelConfig.Tiny with { VocabSize = arch.VocabSize }).InitializeWeights(3);
        lm.eval();
        foreach (var p in lm.parameters()) p.requires_grad = false;
        using var modules = new LdlmModules(arch, seed: 5);
        modules.train();

        using (var scope = NewDisposeScope())
        {
            using var g = SeededDraws.ForSeed(6);
            var tokens = randint(0, arch.VocabSize, [2, arch.Length], generator: g);
            var padding = arange(arch.Length).unsqueeze(0) < tensor(new long[] { 6, 8 }).unsqueeze(1);
            var hidden = lm.forward(new ModelInput(tokens, AttentionPolicy.Causal, ReturnHiddenStates: true)).HiddenStates![1];
            Assert.False(hidden.requires_grad);
            var z = modules.Encoder.Encode(hidden, padding);
            var hHat = modules.Decoder.DecodeHidden(z);
            var logits = modules.TokenDecoder.forward(hHat);
            var loss = nn.functional.cross_entropy(logits.view(-1, arch.VocabSize), tokens.view(-1))
                       + (hHat - hidden).pow(2).mean();
            loss.backward();
        }

        foreach (var (name, p) in modules.named_parameters().Where(p => !p.name.StartsWith("denoiser.", StringComparison.Ordinal)))
        {
            Assert.True(p.grad is not null, $"{name} has no gradient");
            Assert.True(p.grad!.abs().sum().item<float>() > 0, $"{name} has a zero gradient");
        }
        Assert.All(modules.Denoiser.parameters(), p => Assert.Null(p.grad));                 // not on this path
        Assert.All(lm.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void TheDenoiserTrainsFromItsZeroStart()
    {
        var arch = LdlmTestArchitecture.Small;
        using var modules = new LdlmModules(arch, seed: 8);
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(9);
        var z = randn([2, arch.Latents, arch.LatentDim], generator: g);
        var noisy = z * 0.6 + randn(z.shape, generator: g) * 0.8;
        var loss = (modules.Denoiser.PredictX0(noisy, tensor(new[] { 0.2f, 0.6f }), zeros_like(z)) - z).pow(2).mean();
        loss.backward();
        // adaLN-Zero: only the zero output layer gets a non-zero gradient at the first step; every parameter gets one
        foreach (var (name, p) in modules.Denoiser.named_parameters()) Assert.True(p.grad is not null, $"{name} has no gradient");
        Assert.True(modules.Denoiser.OutputProjection.weight!.grad!.abs().sum().item<float>() > 0);
    }
}
