using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>
/// <see cref="VocabGrowth"/> and <c>model.init_from</c> with a larger <c>model.config.vocab_size</c>: new rows for new
/// special tokens (DreamOn's &lt;expand&gt; / &lt;delete&gt;) without changing what the model computes for the old ids.
/// </summary>
public sealed class VocabGrowthTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-vocab-growth-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static Qwen2Model Small(int vocab, bool tied, long seed) =>
        new Qwen2Model(ModelConfig.Tiny with { VocabSize = vocab, HiddenSize = 32, IntermediateSize = 64, TieWordEmbeddings = tied })
            .InitializeWeights(seed);

    /// <summary>Before any training the grown model's logits over the old ids equal the original's on the same input, tied
    /// head or not, under either attention; the old rows are copied and the new rows are the old mean plus the seeded noise.</summary>
    [Fact]
    public void GrownLogitsOverTheOldIdsEqualTheOriginals()
    {
        var cases = Gen.Zip(Gen.Zip(Gen.Choose(8, 40), Gen.Choose(1, 6)), Gen.Zip(Gen.Elements(true, false), Gen.Choose(0, 1000)));
        Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var ((vocab, extra), (tied, seed)) = c;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var original = Small(vocab, tied, seed);
            using var grown = VocabGrowth.Grow(original, vocab + extra, seed: seed + 1, std: 0.02);
            Assert.Equal(vocab + extra, grown.VocabSize);
            var tokens = randint(0, vocab, [2, 7], generator: new TorchSharp.torch.Generator((ulong)seed), dtype: ScalarType.Int64);
            foreach (var attention in new[] { AttentionPolicy.Bidirectional, AttentionPolicy.Causal })
            {
                var before = original.Logits(tokens, attention);
                var after = grown.Logits(tokens, attention);
                Assert.Equal([2L, 7, vocab + extra], after.shape);
                Assert.True(after.narrow(2, 0, vocab).allclose(before, rtol: 0, atol: 1e-6),
                    $"vocab {vocab}+{extra}, tied {tied}: max |Δ| {after.narrow(2, 0, vocab).sub(before).abs().max().item<float>()}");
            }
            var oldHead = original.HeadWeight;
            var newHead = grown.HeadWeight;
            Assert.True(newHead.narrow(0, 0, vocab).eq(oldHead).all().item<bool>());
            var noise = newHead.narrow(0, vocab, extra) - oldHead.mean([0], keepdim: true);
            Assert.True(noise.abs().max().item<float>() is > 0 and < 0.02f * 6);       // mean + N(0, 0.02²): near the mean, not equal
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>The new rows come from the seed: the same seed gives the same rows, another seed other rows.</summary>
    [Fact]
    public void NewRowsAreDrawnFromTheSeed()
    {
        using var scope = NewDisposeScope();
        using var original = Small(20, tied: true, seed: 3);
        using var a = VocabGrowth.Grow(original, 22, seed: 7, std: 0.02);
        using var b = VocabGrowth.Grow(original, 22, seed: 7, std: 0.02);
        using var c = VocabGrowth.Grow(original, 22, seed: 8, std: 0.02);
        Assert.True(a.HeadWeight.eq(b.HeadWeight).all().item<bool>());
        Assert.False(a.HeadWeight.narrow(0, 20, 2).eq(c.HeadWeight.narrow(0, 20, 2)).all().item<bool>());
        Assert.Same(original, VocabGrowth.Grow(original, 20, seed: 7, std: 0.02));          // same size: nothing to add
    }

    /// <summary>The new rows are exactly the documented e = mean_v E[v] + ε, ε the seed's first N(0, std²) draws, on an
    /// embedding whose mean is far from zero (so a missing mean, or a missing noise, shows).</summary>
    [Fact]
    public void NewRowsAreTheMeanPlusTheSeededNoise()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var original = Small(20, tied: true, seed: 3);
        original.HeadWeight.add_(1.5);                                                   // tied: the embedding itself
        using var grown = VocabGrowth.Grow(original, 23, seed: 9, std: 0.05);
        var noise = empty([3, original.HeadWeight.shape[1]]);
        using (var generator = OpenDllm.Sampling.SeededDraws.ForSeed(9)) OpenDllm.Sampling.SeededDraws.FillNormal(noise, 0, 0.05, generator);
        var expected = original.HeadWeight.mean([0], keepdim: true) + noise;
        Assert.True(grown.HeadWeight.narrow(0, 20, 3).allclose(expected, rtol: 0, atol: 1e-6));
    }

    /// <summary><c>init_from</c> + <c>model.config.vocab_size</c> 264 grows a 262-row checkpoint; the saved checkpoint records
    /// 264 and loads back with the same logits; <see cref="ModelPresets.Config"/> agrees with what <see cref="ModelPresets.Build"/> makes.</summary>
    [Fact]
    public void InitFromGrowsTheCheckpointAndTheGrownModelRoundTrips()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var source = Path.Combine(_dir, "base");
        using (var trained = Small(262, tied: true, seed: 11)) trained.SavePretrained(source);
        var section = new ModelSection { InitFrom = source, ShiftedLogits = false, Config = new JsonObject { ["vocab_size"] = 264 } };
        var tokenizer = ByteTokenizer.Instance;
        using var grown = ModelPresets.Build(section, tokenizer, CPU, seed: 5);
        using var original = ModelPresets.Build(section with { Config = null }, tokenizer, CPU, seed: 5);
        Assert.Equal(264, grown.VocabSize);
        Assert.Equal(264, ModelPresets.Config(section, tokenizer).VocabSize);
        var tokens = tensor(new long[] { 1, 7, 9, 2, 261, tokenizer.Special.Mask }).unsqueeze(0);
        Assert.True(grown.Logits(tokens, AttentionPolicy.Bidirectional).narrow(2, 0, 262)
            .allclose(original.Logits(tokens, AttentionPolicy.Bidirectional), rtol: 0, atol: 1e-6));

        var saved = Path.Combine(_dir, "grown");
        grown.SavePretrained(saved);
        Assert.Equal(264, PretrainedModels.VocabSize(saved));
        using var loaded = PretrainedModels.Load(saved);
        Assert.True(loaded.Logits(tokens, AttentionPolicy.Bidirectional).eq(grown.Logits(tokens, AttentionPolicy.Bidirectional)).all().item<bool>());
        using var again = ModelPresets.Build(section with { InitFrom = saved }, tokenizer, CPU, seed: 5);     // already 264: as saved
        Assert.True(again.HeadWeight.eq(grown.HeadWeight).all().item<bool>());
    }

    /// <summary>A smaller vocab_size is refused naming the key and both sizes, by the config check and by the build.</summary>
    [Fact]
    public void ASmallerVocabSizeIsRefusedNamingBothSizes()
    {
        var source = Path.Combine(_dir, "base");
        using (var trained = Small(262, tied: true, seed: 11)) trained.SavePretrained(source);
        var section = new ModelSection { InitFrom = source, Config = new JsonObject { ["vocab_size"] = 200 } };
        foreach (var attempt in new Action[] { () => ModelPresets.Config(section, ByteTokenizer.Instance),
                                               () => ModelPresets.Build(section, ByteTokenizer.Instance, CPU, seed: 0).Dispose() })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(attempt);
            var line = e.Message.Split('\n')[0];
            Assert.Contains("model.config.vocab_size = 200", line);
            Assert.Contains("vocab_size 262", line);
        }
    }

    /// <summary>Any other model.config key with init_from was silently ignored before; now it is refused, naming the key.</summary>
    [Fact]
    public void OtherConfigKeysWithInitFromAreRefused()
    {
        var source = Path.Combine(_dir, "base");
        using (var trained = Small(262, tied: true, seed: 11)) trained.SavePretrained(source);
        var section = new ModelSection { InitFrom = source, Config = new JsonObject { ["vocab_size"] = 264, ["hidden_size"] = 64 } };
        foreach (var attempt in new Action[] { () => ModelPresets.Config(section, ByteTokenizer.Instance),
                                               () => ModelPresets.Build(section, ByteTokenizer.Instance, CPU, seed: 0).Dispose() })
        {
            var e = Assert.Throws<ArgumentException>(attempt);
            Assert.Contains("model.config.hidden_size", e.Message);
            Assert.Contains("only model.config.vocab_size", e.Message);
        }
    }

    /// <summary>The recipe check refuses the same keys before anything is built or prepared, and lets vocab_size through.</summary>
    [Theory]
    [InlineData("init_from: some/checkpoint")]
    [InlineData("init_from_recipe: recipes/quickstart.yaml")]
    public void TheRecipeCheckRefusesOtherConfigKeysWithInitFrom(string init)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Recipe.Parse(
            $"model: {{ {init}, config: {{ vocab_size: 264, num_hidden_layers: 2 }} }}\ndata: {{ source: python-stdlib }}\ntrain: {{ output_dir: x }}", "r.yaml"));
        Assert.Contains("model.config.num_hidden_layers", e.Message.Split('\n')[0]);
        Recipe.Parse($"model: {{ {init}, config: {{ vocab_size: 264 }} }}\ndata: {{ source: python-stdlib }}\ntrain: {{ output_dir: x }}", "r.yaml");
    }

    /// <summary>A vocabulary can only grow.</summary>
    [Fact]
    public void GrowRefusesToShrink()
    {
        using var original = Small(20, tied: false, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => VocabGrowth.Grow(original, 19, seed: 0, std: 0.02));
        Assert.Contains("19 is smaller than the checkpoint's 20", e.Message);
    }
}
