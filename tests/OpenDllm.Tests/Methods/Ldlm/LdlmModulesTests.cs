using OpenDllm.Methods.Ldlm;
using OpenDllm.Sampling;
using OpenDllm.Sampling.Latent;
using OpenDllm.Tests.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>LDLM's modules (SPEC §6.1): shapes, the latent normalisation, seeded initialisation, save and strict load.</summary>
public sealed class LdlmModulesTests
{
    static readonly LdlmArchitecture Arch = LdlmTestArchitecture.Small;

    static LdlmModules Modules(long seed = 7, LdlmArchitecture? arch = null)
    {
        var modules = new LdlmModules(arch ?? Arch, seed);
        modules.eval();
        return modules;
    }

    [Fact]
    public void EveryStageHasItsShape()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(1);
        var modules = Modules();
        var h = randn([3, Arch.Length, Arch.EncoderHiddenSize], generator: g);
        var z = modules.Encoder.Encode(h);
        Assert.Equal([3L, Arch.Latents, Arch.LatentDim], z.shape);
        var hHat = modules.Decoder.DecodeHidden(z);
        Assert.Equal([3L, Arch.Length, Arch.EncoderHiddenSize], hHat.shape);
        Assert.Equal([3L, Arch.Length, Arch.VocabSize], modules.TokenDecoder.forward(hHat).shape);
        ILatentDecoder decoder = modules;
        Assert.Equal([3L, decoder.Length, decoder.VocabSize], decoder.Logits(z).shape);
        ILatentDenoiser denoiser = modules.Denoiser;
        Assert.Equal((Arch.Latents, Arch.LatentDim), (denoiser.Latents, denoiser.LatentDim));
        Assert.Equal(z.shape, denoiser.PredictX0(z, rand([3], generator: g), zeros_like(z)).shape);
    }

    [Fact]
    public void ATokenDecoderWithoutLayersIsNormAndHead()
    {
        using var scope = NewDisposeScope();
        var modules = Modules(arch: Arch with { TokenDecoderLayers = 0 });
        Assert.DoesNotContain(modules.named_parameters(), p => p.name.StartsWith("token_decoder.layers.", StringComparison.Ordinal));
        Assert.Equal([2L, Arch.Length, Arch.VocabSize], modules.Logits(randn(2, Arch.Latents, Arch.LatentDim)).shape);
    }

    [Fact]
    public void NormalisedLatentsHaveNormSqrtD()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(2);
        var h = randn([2, Arch.Length, Arch.EncoderHiddenSize], generator: g) * 5;
        // a trained final LayerNorm (γ ≠ 1, β ≠ 0): at γ = 1, β = 0 its output has norm ≈ √d already
        LdlmModules Trained(LdlmArchitecture arch)
        {
            var modules = Modules(arch: arch);
            using var noGrad = no_grad();
            var state = modules.state_dict();
            state["encoder.norm.weight"].copy_(rand([Arch.LatentDim], generator: g) * 2 + 0.5);
            state["encoder.norm.bias"].copy_(randn([Arch.LatentDim], generator: g));
            return modules;
        }
        var norms = Trained(Arch).Encoder.Encode(h).norm(-1);
        Assert.True(norms.allclose(full_like(norms, Math.Sqrt(Arch.LatentDim)), rtol: 1e-5, atol: 1e-5));
        var raw = Trained(Arch with { NormalizeLatents = false }).Encoder.Encode(h).norm(-1);
        Assert.False(raw.allclose(full_like(raw, Math.Sqrt(Arch.LatentDim)), rtol: 1e-2, atol: 1e-2));
    }

    [Fact]
    public void PaddedTokensDoNotChangeTheLatents()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(3);
        var encoder = Modules().Encoder;
        var h = randn([2, Arch.Length, Arch.EncoderHiddenSize], generator: g);
        var real = arange(Arch.Length).unsqueeze(0) < tensor(new long[] { 5, 8 }).unsqueeze(1);      // row 0: 5 real tokens
        var changed = where(real.unsqueeze(-1), h, randn([2, Arch.Length, Arch.EncoderHiddenSize], generator: g) * 10);
        Assert.True(encoder.Encode(h, real).allclose(encoder.Encode(changed, real), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void ModulesBuiltInsideADisposeScopeOutliveIt()
    {
        LdlmModules modules;
        using (NewDisposeScope()) modules = Modules();
        using (modules)
        using (NewDisposeScope())
        {
            foreach (var (name, p) in modules.named_parameters()) Assert.False(p.IsInvalid, name);
            Assert.Equal([1L, Arch.Length, Arch.VocabSize], modules.Logits(modules.Encoder.Encode(randn(1, Arch.Length, Arch.EncoderHiddenSize))).shape);
        }
    }

    [Fact]
    public void ParameterNamesAreReadable()
    {
        var names = Modules().named_parameters().Select(p => p.name).ToHashSet();
        foreach (var name in new[]
                 {
                     "encoder.input_proj.weight", "encoder.queries", "encoder.layers.0.context_norm.weight",
                     "encoder.layers.0.attention.q_norm.weight", "encoder.layers.0.attention.k_norm.weight", "encoder.layers.1.ffn.fc2.bias",
                     "encoder.norm.weight", "decoder.queries", "decoder.layers.1.query_norm.bias", "decoder.output_proj.weight",
                     "token_decoder.layers.0.attention.o_proj.weight", "token_decoder.lm_head.weight",
                     "denoiser.input_proj.weight", "denoiser.positions", "denoiser.time_embedding.fc1.weight",
                     "denoiser.blocks.1.modulation.weight", "denoiser.final_modulation.bias", "denoiser.output_proj.weight",
                 })
            Assert.Contains(name, names);
        Assert.DoesNotContain("token_decoder.layers.0.context_norm.weight", names);       // self-attention blocks have no LN_x
    }

    [Fact]
    public void TheSameSeedGivesTheSameWeightsAndAnotherSeedOthers()
    {
        using var a = Modules(seed: 11);
        using var b = Modules(seed: 11);
        using var c = Modules(seed: 12);
        var sa = a.state_dict(); var sb = b.state_dict(); var sc = c.state_dict();
        foreach (var (key, value) in sa) Assert.True(Fixture.Same(value, sb[key]), key);
        Assert.False(Fixture.Same(sa["encoder.queries"], sc["encoder.queries"]));
        Assert.False(Fixture.Same(sa["token_decoder.lm_head.weight"], sc["token_decoder.lm_head.weight"]));
        Assert.False(Fixture.Same(sa["denoiser.positions"], sc["denoiser.positions"]));
    }

    [Fact]
    public void SaveThenLoadGivesTheSameOutputs()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(4);
        var modules = Modules(seed: 21, arch: Arch with { Dropout = 0.1, NormalizeLatents = false });
        modules.Save(dir.Path);
        Assert.True(File.Exists(dir.File(LdlmModules.WeightsFileName)));
        Assert.Contains("\"normalize_latents\": false", File.ReadAllText(dir.File(LdlmModules.ArchitectureFileName)));
        var loaded = LdlmModules.Load(dir.Path);
        loaded.eval();
        Assert.Equal(modules.Architecture, loaded.Architecture);

        var h = randn([2, Arch.Length, Arch.EncoderHiddenSize], generator: g);
        var z = modules.Encoder.Encode(h);
        Assert.True(Fixture.Same(z, loaded.Encoder.Encode(h)));
        Assert.True(Fixture.Same(modules.Logits(z), loaded.Logits(z)));
        var t = rand([2], generator: g);
        using (no_grad()) foreach (var p in modules.Denoiser.parameters()) p.add_(randn(p.shape, generator: g) * 0.1);   // leave the zero init
        modules.Save(dir.Path);
        var reloaded = LdlmModules.Load(dir.Path);
        reloaded.eval();
        Assert.True(Fixture.Same(modules.Denoiser.PredictX0(z, t, z), reloaded.Denoiser.PredictX0(z, t, z)));
    }

    [Fact]
    public void LoadNamesAMissingTensor()
    {
        using var dir = new TempDir();
        var modules = Modules();
        modules.Save(dir.Path);
        var weights = dir.File(LdlmModules.WeightsFileName);
        using (var scope = NewDisposeScope())
            OpenDllm.Checkpoints.SafetensorsWriter.Save(weights, modules.state_dict().Where(kv => kv.Key != "decoder.queries").Select(kv => (kv.Key, kv.Value)));
        var ex = Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path));
        Assert.Contains("decoder.queries", ex.Message);
        Assert.Contains(LdlmModules.WeightsFileName, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void LoadNamesAnExtraOrMisshapedTensor()
    {
        using var dir = new TempDir();
        var modules = Modules();
        modules.Save(dir.Path);
        var weights = dir.File(LdlmModules.WeightsFileName);
        using var scope = NewDisposeScope();
        var state = modules.state_dict().Select(kv => (kv.Key, kv.Value)).ToList();
        OpenDllm.Checkpoints.SafetensorsWriter.Save(weights, state.Append(("denoiser.extra", zeros(2))));
        Assert.Contains("unexpected tensor 'denoiser.extra'", Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path)).Message);
        OpenDllm.Checkpoints.SafetensorsWriter.Save(weights, state.Select(e => e.Key == "encoder.queries" ? (e.Key, zeros(3, 3)) : e));
        var ex = Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path));
        Assert.Contains("'encoder.queries' has shape [3, 3]", ex.Message);
    }

    [Fact]
    public void LoadNamesABadArchitectureField()
    {
        using var dir = new TempDir();
        Modules().Save(dir.Path);
        var json = dir.File(LdlmModules.ArchitectureFileName);
        var text = File.ReadAllText(json);
        File.WriteAllText(json, text.Replace("\"latent_dim\": 16", "\"latent_dim\": 0"));
        var ex = Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path));
        Assert.Contains(LdlmModules.ArchitectureFileName, ex.Message);
        Assert.Contains("latent_dim", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        File.WriteAllText(json, text.Replace("\"latent_dim\": 16,", ""));
        Assert.Contains("missing field 'latent_dim'", Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path)).Message);
        File.WriteAllText(json, text.Replace("\"latent_dim\": 16", "\"latent_dims\": 16"));
        Assert.Contains("latent_dims", Assert.Throws<InvalidDataException>(() => LdlmModules.Load(dir.Path)).Message);
    }

    [Fact]
    public void AnInvalidArchitectureIsRefusedNamingTheField()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new LdlmModules(Arch with { PerceiverHeads = 5 }, 1));
        Assert.Contains("perceiver_heads", ex.Message);
    }
}
