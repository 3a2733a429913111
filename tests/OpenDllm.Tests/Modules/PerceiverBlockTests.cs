using OpenDllm.Modules.Perceiver;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Modules;

/// <summary>The Perceiver block of SPEC §6.2: shapes, the key padding mask of x, and separate q/k RMS norms.</summary>
public sealed class PerceiverBlockTests
{
    const long Width = 16;
    const int Heads = 4;

    static PerceiverBlock Block(bool hasContext = true, int seed = 1)
    {
        var block = new PerceiverBlock(Width, Heads, ffnMultiplier: 2, dropout: 0, normEps: 1e-6, hasContext);
        using var g = SeededDraws.ForSeed(seed);
        block.Initialize(g);
        block.eval();
        return block;
    }

    static Tensor Normal(Generator g, params long[] shape) => randn(shape, generator: g);

    [Fact]
    public void CrossAndSelfAttentionKeepTheQueryShape()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(2);
        var q = Normal(g, 2, 3, Width);
        Assert.Equal([2L, 3, Width], Block().forward(q, Normal(g, 2, 5, Width), null).shape);
        Assert.Equal([2L, 3, Width], Block(hasContext: false).forward(q, null, null).shape);
        Assert.Equal([2L, 3, Width], Block().forward(q, zeros(2, 0, Width), null).shape);        // N = 0: self-attention
    }

    [Fact]
    public void PaddedPositionsOfXDoNotChangeTheOutput()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(3);
        var block = Block();
        var q = Normal(g, 2, 3, Width);
        var x = Normal(g, 2, 6, Width);
        var padding = tensor(new[] { true, true, true, true, false, false, true, false, true, false, true, false }).view(2, 6);
        var changed = where(padding.unsqueeze(-1), x, Normal(g, 2, 6, Width) * 100);         // other values at padded positions only
        var before = block.forward(q, x, padding);
        var after = block.forward(q, changed, padding);
        Assert.True(before.allclose(after, rtol: 0, atol: 1e-5), $"max change {(before - after).abs().max().item<float>()}");
        // and the mask matters: without it the same change moves the output
        Assert.False(block.forward(q, x, null).allclose(block.forward(q, changed, null), rtol: 0, atol: 1e-3));
    }

    [Fact]
    public void AFullyPaddedRowIsFiniteAndEqualsSelfAttention()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(4);
        var block = Block();
        var q = Normal(g, 2, 3, Width);
        var x = Normal(g, 2, 5, Width);
        var padding = stack([ones(5, dtype: ScalarType.Bool), zeros(5, dtype: ScalarType.Bool)]);   // row 1: all padding
        var output = block.forward(q, x, padding);
        Assert.True(output.isfinite().all().item<bool>());
        // with every x position masked, row 1 attends to its queries only: the self-attention of the same block
        var selfOnly = block.forward(q.narrow(0, 1, 1), x.narrow(0, 1, 1).narrow(1, 0, 0), null);
        var row = output.narrow(0, 1, 1);
        Assert.True(row.allclose(selfOnly, rtol: 0, atol: 1e-5), $"max diff {(row - selfOnly).abs().max().item<float>()}");
    }

    [Fact]
    public void QueryAndKeyNormsAreDistinctParameters()
    {
        var block = Block();
        var names = block.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("attention.q_norm.weight", names);
        Assert.Contains("attention.k_norm.weight", names);
        Assert.NotSame(block.Attention.QueryNorm, block.Attention.KeyNorm);
        using (no_grad()) block.Attention.KeyNorm.Weight.fill_(3.0);
        Assert.Equal(1f, block.Attention.QueryNorm.Weight.max().item<float>());
        Assert.Equal(1f, block.Attention.QueryNorm.Weight.min().item<float>());
    }

    [Fact]
    public void TheKeyNormActsOnKeysOnly()
    {
        using var scope = NewDisposeScope();
        using var g = SeededDraws.ForSeed(5);
        var block = Block();
        var q = Normal(g, 1, 3, Width);
        var x = Normal(g, 1, 4, Width);
        var reference = block.forward(q, x, null);
        using (no_grad()) block.Attention.KeyNorm.Weight.mul_(2.0);                  // sharper keys: other attention weights
        Assert.False(reference.allclose(block.forward(q, x, null), rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void ABlockWithoutContextRefusesOne()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => Block(hasContext: false).forward(zeros(1, 2, Width), zeros(1, 3, Width), null));
        Assert.Contains("without a context", ex.Message);
    }
}
