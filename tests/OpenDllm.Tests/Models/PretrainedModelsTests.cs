using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary><see cref="PretrainedModels"/> opens a folder as the architecture its config.json names.</summary>
public sealed class PretrainedModelsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void AQwen2FolderLoadsAsQwen2WithTheSameLogits()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var saved = new Qwen2Model(ModelConfig.Tiny with { MaskTokenId = 5 }).InitializeWeights(seed: 4);
        saved.SavePretrained(_dir);
        using var loaded = PretrainedModels.Load(_dir);
        Assert.IsType<Qwen2Model>(loaded);
        Assert.Equal("qwen2", loaded.ModelType);
        Assert.Equal(saved.VocabSize, loaded.VocabSize);
        Assert.Equal(5L, loaded.MaskTokenId);
        var tokens = tensor(new long[] { 1, 7, 9, 2 }).unsqueeze(0);
        Assert.True(saved.Logits(tokens, AttentionPolicy.Bidirectional).eq(loaded.Logits(tokens, AttentionPolicy.Bidirectional)).all().item<bool>());
    }

    [Fact]
    public void AnUnknownModelTypeNamesTheFileAndTheTypesThatLoad()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), """{"model_type": "mamba", "vocab_size": 10}""");
        var e = Assert.Throws<InvalidDataException>(() => PretrainedModels.Load(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("\"mamba\"", e.Message);
        Assert.Contains("qwen2", e.Message);
        Assert.Equal(10, PretrainedModels.VocabSize(_dir));
    }

    [Fact]
    public void DiffusionSettingsChangeOnlyTheMaskIdAndTheAlignment()
    {
        using var model = new Qwen2Model(ModelConfig.Tiny).InitializeWeights(seed: 1);
        model.WithDiffusionSettings(maskTokenId: 3, shiftedLogits: true);
        Assert.Equal((3L, true), (model.MaskTokenId, model.ShiftedLogits));
        model.WithDiffusionSettings(shiftedLogits: false);
        Assert.Equal((3L, false), (model.MaskTokenId, model.ShiftedLogits));
    }
}

/// <summary><c>model.random_init</c>: the architecture of <c>init_from</c>, the weights of a fresh seeded init.</summary>
public sealed class RandomInitTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-random-init-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void RandomInitKeepsTheArchitectureAndDrawsTheWeightsFromTheSeed()
    {
        using var scope = NewDisposeScope();
        var config = ModelConfig.Tiny with { VocabSize = 262 };
        using (var trained = new Qwen2Model(config).InitializeWeights(seed: 11)) trained.SavePretrained(_dir);
        var tokenizer = OpenDllm.Tokenization.ByteTokenizer.Instance;
        using var pretrained = OpenDllm.Training.ModelPresets.Build(new OpenDllm.Training.ModelSection { InitFrom = _dir }, tokenizer, CPU, seed: 5);
        using var random = OpenDllm.Training.ModelPresets.Build(new OpenDllm.Training.ModelSection { InitFrom = _dir, RandomInit = true }, tokenizer, CPU, seed: 5);
        using var fresh = new Qwen2Model(config).InitializeWeights(seed: 5);
        Assert.Equal(pretrained.ParameterCount, random.ParameterCount);
        Assert.True(random.HeadWeight.eq(fresh.HeadWeight).all().item<bool>());
        Assert.False(random.HeadWeight.eq(pretrained.HeadWeight).all().item<bool>());
        Assert.True(random.ShiftedLogits);                                        // a qwen2 init_from stays shifted
    }

    [Fact]
    public void RandomInitWithoutInitFromIsRefused()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => OpenDllm.Training.Recipe.Parse(
            "model: { preset: tiny, random_init: true }\ndata: { source: python-stdlib }\ntrain: { output_dir: x }", "r"));
        Assert.Contains("model.random_init", e.Message);
    }
}
