using OpenDllm.Lora;
using TorchSharp;
using static OpenDllm.Tests.Lora.LoraTestModels;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>LoRA adapters on the tiny Qwen2: initial identity, merge equivalence, frozen base, parameter count, targets.</summary>
public class LoraAdapterTests
{
    [Fact]
    public void AFreshAdapterLeavesTheLogitsUnchangedAndItsAIsSeededKaimingUniform()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Tiny();
        var tokens = Tokens();
        var before = Logits(model, tokens);
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, Seed: 1));
        Assert.True(Fixture.Same(before, Logits(model, tokens)));

        foreach (var (target, adapter) in adapters.Entries)
        {
            Assert.Equal(0.0, adapter.B.abs().max().item<float>());
            double bound = 1 / Math.Sqrt(target.InFeatures);
            Assert.True(adapter.A.abs().max().item<float>() <= bound);
            Assert.True(adapter.A.abs().max().item<float>() > 0.5 * bound, "A should fill its uniform range");
        }
        using var again = LoraAdapters.Attach(Tiny(), new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, Seed: 1));
        using var other = LoraAdapters.Attach(Tiny(), new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, Seed: 2));
        Assert.True(Fixture.Same(adapters.Entries[3].Adapter.A, again.Entries[3].Adapter.A));
        Assert.False(Fixture.Same(adapters.Entries[3].Adapter.A, other.Entries[3].Adapter.A));
    }

    [Fact]
    public void MergedForwardEqualsAdapterForward()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Tiny();
        model.eval();
        var tokens = Tokens();
        var baseLogits = Logits(model, tokens);
        var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 8, Alpha: 16, Dropout: 0.1, Seed: 4));
        RandomizeB(adapters);
        var adapted = Logits(model, tokens);
        Assert.True(Fixture.MaxAbsDiff(baseLogits, adapted) > 1e-3, "the adapter must change the logits for the test to mean anything");

        adapters.MergeIntoBase();
        Assert.All(LoraTargets.Enumerate(model), t => Assert.Null(t.Host.GetAdapter(t.Name)));
        Fixture.AssertClose(adapted, Logits(model, tokens), 1e-5, "merged vs adapter forward");
        Assert.Throws<InvalidOperationException>(adapters.MergeIntoBase);
        adapters.Dispose();
    }

    [Fact]
    public void DropoutActsOnlyInTrainingMode()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Tiny();
        var tokens = Tokens();
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.5, Seed: 4));
        RandomizeB(adapters);
        model.eval();
        var eval1 = Logits(model, tokens);
        Assert.True(Fixture.Same(eval1, Logits(model, tokens)));
        model.train();
        var train1 = Logits(model, tokens);
        Assert.True(Fixture.MaxAbsDiff(eval1, train1) > 1e-4);
        adapters.Dropout.Reseed(7);
        var seeded = Logits(model, tokens);
        adapters.Dropout.Reseed(7);
        Assert.True(Fixture.Same(seeded, Logits(model, tokens)), "reseeding repeats the masks");
    }

    /// <summary>A few AdamW steps on a cross-entropy loss: the base model's parameters stay bit-identical, A and B move.</summary>
    [Fact]
    public void OnlyAdapterParametersChangeDuringTraining()
    {
        using var scope = NewDisposeScope();
        var model = Tiny();
        var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.1, Seed: 4));
        var baseBefore = Snapshot(model);
        var adapterBefore = Snapshot(adapters);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(adapters.parameters(), p => Assert.True(p.requires_grad));

        model.train();
        var trainable = model.parameters().Concat(adapters.parameters()).Where(p => p.requires_grad).ToList();
        using var optimizer = optim.AdamW(trainable, lr: 1e-2, weight_decay: 0.1);
        var tokens = Tokens(length: 16);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = NewDisposeScope();
            adapters.Dropout.Reseed(step);
            optimizer.zero_grad();
            var logits = Logits(model, tokens);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, TinyConfig.VocabSize), tokens.roll(1, 1).reshape(-1));
            loss.backward();
            optimizer.step();
        }

        foreach (var (name, p) in model.named_parameters())
        {
            Assert.True(Fixture.Same(baseBefore[name], p), $"base parameter {name} changed");
            Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0, $"base parameter {name} got a gradient");
        }
        foreach (var (name, p) in adapters.named_parameters())
            Assert.False(Fixture.Same(adapterBefore[name], p), $"adapter parameter {name} did not move");
    }

    /// <summary>bf16 mixed precision: float32 adapters, bf16 compute, float32 gradients; merge still matches the adapter forward.</summary>
    [Fact]
    public void AdaptersTrainUnderMixedPrecision()
    {
        using var scope = NewDisposeScope();
        var model = OpenDllm.Training.TrainingPrecisions.Apply(Tiny(), OpenDllm.Training.TrainingPrecision.Bf16Mixed);
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.1, Seed: 3));
        RandomizeB(adapters);
        model.train();
        var tokens = Tokens();
        var loss = nn.functional.cross_entropy(Logits(model, tokens).reshape(-1, TinyConfig.VocabSize).to(ScalarType.Float32),
                                               tokens.roll(1, 1).reshape(-1));
        loss.backward();
        Assert.All(adapters.parameters(), p =>
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.NotNull(p.grad);
            Assert.Equal(ScalarType.Float32, p.grad!.dtype);
            Assert.True(p.grad.abs().max().item<float>() > 0);
        });
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
    }

    /// <summary>Σ over targeted projections of r·(in + out), with the tiny config's shapes written out.</summary>
    [Theory]
    [InlineData("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", 8)]
    [InlineData("q_proj,v_proj", 4)]
    [InlineData("mlp.down_proj", 16)]
    [InlineData("all-linear", 2)]
    public void TrainableParameterCountMatchesTheFormula(string targets, int rank)
    {
        using var scope = NewDisposeScope();
        var c = TinyConfig;
        long hidden = c.HiddenSize, inter = c.IntermediateSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.KeyValueHeads * c.HeadDim;
        var shapes = new Dictionary<string, (long In, long Out)>
        {
            ["q_proj"] = (hidden, q), ["k_proj"] = (hidden, kv), ["v_proj"] = (hidden, kv), ["o_proj"] = (q, hidden),
            ["gate_proj"] = (hidden, inter), ["up_proj"] = (hidden, inter), ["down_proj"] = (inter, hidden),
        };
        var names = targets == "all-linear" ? shapes.Keys.ToList() : targets.Split(',').Select(t => t.Split('.')[^1]).ToList();
        long expected = c.NumHiddenLayers * names.Sum(n => (long)rank * (shapes[n].In + shapes[n].Out));

        var model = Tiny();
        long baseCount = model.ParameterCount;
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(rank, 2 * rank, 0, LoraOptions.ParseTargets(targets)));
        Assert.Equal(expected, adapters.TrainableParameterCount);
        Assert.Equal(c.NumHiddenLayers * names.Count, adapters.Entries.Count);
        Assert.Equal(baseCount, model.ParameterCount);   // the base model's own parameters are unchanged
    }

    [Fact]
    public void TargetsMatchTheLastNameOrADottedSuffixAndATypoIsRefused()
    {
        using var scope = NewDisposeScope();
        var model = Tiny();
        Assert.Equal(["model.layers.0.self_attn.q_proj"],
            LoraTargets.Select(model, ["model.layers.0.self_attn.q_proj"]).Select(t => t.Path));
        Assert.Equal(["model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj"],
            LoraTargets.Select(model, ["up_proj"]).Select(t => t.Path));
        Assert.All(LoraTargets.Select(model, ["q_proj"]), t => Assert.EndsWith(".self_attn.q_proj", t.Path));
        var e = Assert.Throws<ArgumentException>(() => LoraAdapters.Attach(model, new LoraOptions(TargetModules: ["q_prj"])));
        Assert.Contains("'q_prj'", e.Message);
        Assert.Throws<ArgumentException>(() => LoraAdapters.Attach(model, new LoraOptions(TargetModules: ["lm_head"])));
        Assert.Throws<ArgumentException>(() => new LoraOptions(Rank: 0).Validate());
        Assert.Throws<ArgumentException>(() => new LoraOptions(Dropout: 1).Validate());
        Assert.Throws<ArgumentException>(() => LoraOptions.ParseTargets("q_proj,,v_proj"));
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));     // refused before freezing anything

        using var first = LoraAdapters.Attach(model, new LoraOptions(Rank: 2, TargetModules: ["q_proj"]));
        Assert.Throws<InvalidOperationException>(() => LoraAdapters.Attach(model, new LoraOptions(Rank: 2, TargetModules: ["q_proj"])));
    }
}
