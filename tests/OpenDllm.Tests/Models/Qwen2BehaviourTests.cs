using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>Agreement tests between two ways of computing the same thing (STYLE §3.14): caches, padding, packing.</summary>
public class Qwen2BehaviourTests
{
    const double Tol = 1e-5;

    static Qwen2Model TinyModel(ModelConfig? config = null) =>
        new Qwen2Model(config ?? ModelConfig.Tiny).InitializeWeights(seed: 11, std: 0.2);

    static Tensor RandomTokens(long batch, long length, long seed = 3)
    {
        var g = new Generator((ulong)seed);
        return randint(0, ModelConfig.Tiny.VocabSize, [batch, length], generator: g, dtype: ScalarType.Int64);
    }

    [Fact]
    public void CausalDecodingWithCacheEqualsFullForward()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var ids = RandomTokens(2, 12);
        var full = model.Logits(ids, AttentionPolicy.Causal);

        var prefix = model.forward(new ModelInput(ids.narrow(1, 0, 5), AttentionPolicy.Causal, ReturnCache: true));
        Fixture.AssertClose(full.narrow(1, 0, 5), prefix.Logits, Tol, "prefix");
        var cache = prefix.Cache!;
        for (int i = 5; i < 12; i++)
        {
            var step = model.forward(new ModelInput(ids.narrow(1, i, 1), AttentionPolicy.Causal, Cache: cache, ReturnCache: true));
            Fixture.AssertClose(full.narrow(1, i, 1), step.Logits, Tol, $"step {i}");
            cache = step.Cache!;
        }
        Assert.Equal(12, cache.Length);
    }

    [Fact]
    public void DualCacheBlockRecomputationEqualsFullBidirectionalForward()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var ids = RandomTokens(1, 16);
        var full = model.forward(new ModelInput(ids, AttentionPolicy.Bidirectional, ReturnCache: true));
        // Re-feed the block [8, 12) against the cache of all 16 positions, overwriting its own entries (Fast-dLLM dual cache).
        var block = model.forward(new ModelInput(ids.narrow(1, 8, 4), AttentionPolicy.Bidirectional, Cache: full.Cache, CacheOffset: 8));
        Fixture.AssertClose(full.Logits.narrow(1, 8, 4), block.Logits, Tol, "dual-cache block");
        // Prefix cache: positions [0, 8) cached, the rest fed again.
        var prefix = full.Cache!.Truncate(8);
        var rest = model.forward(new ModelInput(ids.narrow(1, 8, 8), AttentionPolicy.Bidirectional, Cache: prefix));
        Fixture.AssertClose(full.Logits.narrow(1, 8, 8), rest.Logits, Tol, "prefix-cache suffix");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PaddingKeysDoNotChangeRealPositions(bool causal)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var policy = causal ? AttentionPolicy.Causal : AttentionPolicy.Bidirectional;
        var ids = RandomTokens(1, 7);
        var alone = model.Logits(ids, policy);
        var padded = cat([ids, full(1, 3, 0L, dtype: ScalarType.Int64)], 1);                 // right padding
        var keep = cat([ones(1, 7, dtype: ScalarType.Bool), zeros(1, 3, dtype: ScalarType.Bool)], 1);
        var logits = model.forward(new ModelInput(padded, policy, KeyPadding: keep)).Logits;
        Fixture.AssertClose(alone, logits.narrow(1, 0, 7), Tol, "right padding");
        Assert.False(logits.isnan().any().item<bool>(), "padding rows must not be NaN");
    }

    [Fact]
    public void PackedDocumentsEqualSeparateForwards()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var a = RandomTokens(1, 5, seed: 1);
        var b = RandomTokens(1, 6, seed: 2);
        var packed = cat([a, b], 1);
        var documents = tensor(new long[] { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1 }).unsqueeze(0);
        var positions = tensor(new long[] { 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5 }).unsqueeze(0);
        var logits = model.forward(new ModelInput(packed, AttentionPolicy.Bidirectional, PositionIds: positions, DocumentIds: documents)).Logits;
        Fixture.AssertClose(model.Logits(a, AttentionPolicy.Bidirectional), logits.narrow(1, 0, 5), Tol, "document a");
        Fixture.AssertClose(model.Logits(b, AttentionPolicy.Bidirectional), logits.narrow(1, 5, 6), Tol, "document b");
    }

    [Fact]
    public void ExplicitMaskEqualsTheBuiltInPolicy()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var ids = RandomTokens(2, 9);
        var causalMask = ones(9, 9, dtype: ScalarType.Bool).tril();
        Fixture.AssertClose(model.Logits(ids, AttentionPolicy.Causal), model.Logits(ids, AttentionPolicy.Explicit(causalMask)), Tol, "explicit causal");
        Fixture.AssertClose(model.Logits(ids, AttentionPolicy.Causal), model.Logits(ids, AttentionPolicy.BlockCausal(1)), Tol, "block size 1");
        Assert.Equal(AttentionPolicy.Bidirectional, AttentionPolicy.Causal.Flip());
    }

    [Fact]
    public void BlockDiffusionHalvesShareRotaryPositions()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var x0 = RandomTokens(1, 8);
        var xt = x0.clone();
        xt[0, 5] = tensor(98L);
        var input = cat([xt, x0], 1);
        var positions = cat([arange(8), arange(8)]).unsqueeze(0);
        var logits = model.forward(new ModelInput(input, AttentionPolicy.BlockDiffusion(4), PositionIds: positions)).Logits;
        // The clean half is block-causal and never sees the noisy half: it equals a block-causal forward of x0 alone.
        var clean = model.forward(new ModelInput(x0, AttentionPolicy.BlockCausal(4))).Logits;
        Fixture.AssertClose(clean, logits.narrow(1, 8, 8), Tol, "clean half");
        // The first noisy block sees only itself, so it equals a bidirectional forward of that block.
        var first = model.Logits(xt.narrow(1, 0, 4), AttentionPolicy.Bidirectional);
        Fixture.AssertClose(first, logits.narrow(1, 0, 4), Tol, "first noisy block");
    }

    [Fact]
    public void Bfloat16ModelRunsAndStaysCloseToFloat32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = TinyModel();
        var ids = RandomTokens(1, 6);
        var reference = model.Logits(ids, AttentionPolicy.Bidirectional);
        model.to(ScalarType.BFloat16);
        var low = model.Logits(ids, AttentionPolicy.Bidirectional);
        Assert.Equal(ScalarType.BFloat16, low.dtype);
        Assert.True(Fixture.MaxAbsDiff(reference, low) < 0.1, "bf16 logits drift too far");
    }
}

public class Qwen2LifetimeTests
{
    /// <summary>A model built or loaded inside a dispose scope must outlive it (regression: RmsNorm weights were freed).</summary>
    [Fact]
    public void ModelsBuiltInsideADisposeScopeOutliveIt()
    {
        Qwen2Model built, loaded;
        using (NewDisposeScope())
        {
            built = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 1);
            loaded = Qwen2Model.FromPretrained(Fixture.GoldenDir("tiny"));
        }
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 1, 4, 99 }, built.Logits(arange(4).unsqueeze(0), AttentionPolicy.Causal).shape);
        Assert.Equal(new long[] { 1, 4, 300 }, loaded.Logits(arange(4).unsqueeze(0), AttentionPolicy.Causal).shape);
    }

    /// <summary>A forward has no default attention: null is refused, at construction and through <c>with</c>.</summary>
    [Fact]
    public void ModelInputRefusesAMissingAttentionPolicy()
    {
        using var scope = NewDisposeScope();
        var ids = arange(4).unsqueeze(0);
        var error = Assert.Throws<ArgumentNullException>(() => new ModelInput(ids, null!));
        Assert.Contains("attention policy", error.Message);
        var input = new ModelInput(ids, AttentionPolicy.Bidirectional);
        Assert.Throws<ArgumentNullException>(() => input with { Attention = null! });
        Assert.Same(AttentionPolicy.Bidirectional, input.Attention);
    }
}
