using OpenDllm.Config;
using OpenDllm.Methods.DreamOn;
using OpenDllm.Models;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.DreamOn;

/// <summary>DreamOn training (SPEC §5.7): the loss, its tokens, and the recipe keys.</summary>
public sealed class DreamOnMethodTests
{
    static Qwen2Model Model(int vocab = 264) => new Qwen2Model(ModelConfig.Tiny with { VocabSize = vocab, MaskTokenId = 258 }).InitializeWeights(3);

    static DreamOnMethod Method(Qwen2Model model, DreamOnOptions? options = null, int seqLen = 32) =>
        new(new TrainingMethodContext(
            new Recipe { Data = new DataSection { SeqLen = seqLen }, Train = new TrainSection { Objective = DreamOnMethod.MethodName, DreamOn = options ?? new() { MaxMiddleTokens = 16 } } },
            model, ByteTokenizer.Instance));

    /// <summary>The loss is a finite scalar with gradients, the same for the same generator state, and the byte tokenizer's
    /// default ids are the two rows after its 262.</summary>
    [Fact]
    public void TheLossIsFiniteDifferentiableAndReplaysForASeed()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var method = Method(model);
        Assert.Equal(new DreamOnTokens(262, 263), method.Tokens);
        using var batch = ValidationNelboTests.Batch(rows: 3, length: 32, documentLength: 16, vocab: 200, seed: 1);
        var a = method.Loss(batch, new Generator(5)).Loss;
        var b = method.Loss(batch, new Generator(5)).Loss;
        var c = method.Loss(batch, new Generator(6)).Loss;
        Assert.True(float.IsFinite(a.item<float>()) && a.item<float>() > 0);
        Assert.Equal(a.item<float>(), b.item<float>());
        Assert.NotEqual(a.item<float>(), c.item<float>());
        a.backward();
        Assert.Contains(model.parameters(), p => p.grad is { } g && g.abs().sum().item<float>() > 0);
        var bound = method.Bound(batch, new Generator(5));
        Assert.True(bound.Tokens.item<long>() > 0);
        Assert.Equal(a.item<float>() * bound.Tokens.item<long>(), bound.Nats.item<double>(), 2);   // Σ CE = mean · count, same draws
    }

    /// <summary>The model must have rows for &lt;expand&gt; and &lt;delete&gt;: a 262-row model is refused naming vocab_size.</summary>
    [Fact]
    public void AModelWithoutRowsForTheTokensIsRefused()
    {
        using var model = Model(vocab: 262);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Method(model));
        Assert.Contains("train.dreamon.expand_token_id = 262", e.Message);
        Assert.Contains("vocab_size: 264", e.Message);
        using var big = Model();
        var clash = Assert.Throws<ArgumentOutOfRangeException>(() => Method(big, new DreamOnOptions { ExpandTokenId = 256, MaxMiddleTokens = 16 }));
        Assert.Contains("is the tokenizer's Eos token", clash.Message);
    }

    [Theory]
    [InlineData("--train.dreamon.merge_prob=1.5", "train.dreamon.merge_prob")]
    [InlineData("--train.dreamon.max_delete=-1", "train.dreamon.max_delete")]
    [InlineData("--train.dreamon.max_middle_tokens=32", "train.dreamon.max_middle_tokens")]
    [InlineData("--train.dreamon.max_middle_lines=0", "train.dreamon.max_middle_lines")]
    [InlineData("--train.loss=mdlm", "train.loss")]
    [InlineData("--train.schedule=cosine", "train.schedule")]
    public void BadRecipeKeysAreNamed(string overrideArg, string key)
    {
        using var fixture = new TrainingFixture();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            fixture.Recipe(Path.Combine(fixture.Root, "run"), DreamOnMethod.MethodName, 1, "--train.dreamon.max_middle_tokens=16", overrideArg).Validate());
        Assert.Contains(key, e.Message.Split('\n')[0]);                      // the line the CLI prints names the key
    }

    [Fact]
    public void TheDreamOnSectionNeedsTheDreamOnObjective()
    {
        using var fixture = new TrainingFixture();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            fixture.Recipe(Path.Combine(fixture.Root, "run"), "mdlm", 1, "--train.dreamon.merge_prob=0.5").Validate());
        Assert.Contains("train.dreamon", e.Message);
        Assert.Contains("only read by train.objective: dreamon", e.Message);
    }

    /// <summary>A checkpoint that was not trained with DreamOn has no tokens to find: a clear error, not a guess.</summary>
    [Fact]
    public void CheckpointsWithoutDreamOnTrainingHaveNoTokens()
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-dreamon-").FullName;
        try
        {
            var none = Assert.Throws<InvalidOperationException>(() => DreamOnTokens.FromCheckpoint(dir, ByteTokenizer.Instance, 264));
            Assert.Contains("no recipe.json", none.Message);
            new Recipe { Model = new ModelSection { Preset = "tiny" } }.Save(Path.Combine(dir, "recipe.json"));
            var mdlm = Assert.Throws<InvalidOperationException>(() => DreamOnTokens.FromCheckpoint(dir, ByteTokenizer.Instance, 264));
            Assert.Contains("train.objective: mdlm", mdlm.Message);
            Assert.Contains("--length-mode oracle or fixed", mdlm.Message);
            new Recipe { Model = new ModelSection { Preset = "tiny" }, Train = new TrainSection { Objective = "dreamon", DreamOn = new() } }.Save(Path.Combine(dir, "recipe.json"));
            Assert.Equal(new DreamOnTokens(262, 263), DreamOnTokens.FromCheckpoint(dir, ByteTokenizer.Instance, 264));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
