using OpenDllm.Training;

namespace OpenDllm.Tests.Training;

public class RecipeTests
{
    [Fact]
    public void ShippedRecipesLoad()
    {
        foreach (var file in new[] { "quickstart.yaml", "ar-baseline.yaml", "open-dcoder-0.5b.yaml" })
        {
            var recipe = Recipe.Load(Path.Combine(TestPaths.RepoRoot, "recipes", file));
            Assert.NotNull(recipe.Train);
        }
        var big = Recipe.Load(Path.Combine(TestPaths.RepoRoot, "recipes", "open-dcoder-0.5b.yaml"));
        Assert.Equal(512, big.Train.GlobalBatchSize);
        Assert.Equal(4096, big.Data.SeqLen);
        Assert.Equal(3e-4, big.Train.Lr);
        Assert.Equal(3e-6, big.Train.LrMin);
    }

    [Fact]
    public void DottedOverridesApply()
    {
        var recipe = Recipe.Parse("model: {preset: tiny}\ntrain: {micro_batch_size: 2, global_batch_size: 4}", "r",
                                  ["--train.micro_batch_size=4", "--data.seq_len=64", "--model.config.hidden_size=48"]);
        Assert.Equal(4, recipe.Train.MicroBatchSize);
        Assert.Equal(64, recipe.Data.SeqLen);
        Assert.Equal(48, (int)recipe.Model.Config!["hidden_size"]!);
    }

    [Theory]
    [InlineData("train: {micro_batch_sise: 2}", "micro_batch_sise", "micro_batch_size")]
    [InlineData("trian: {lr: 1}", "trian", "train")]
    [InlineData("train: {lr: -1}", "train.lr", "> 0")]
    [InlineData("train: {micro_batch_size: 3, global_batch_size: 4}", "train.global_batch_size", "multiple")]
    [InlineData("train: {objective: gpt}", "train.objective", "bd3lm, dreamon, ldlm, mdlm")]
    [InlineData("train: {loss: qwen4}", "train.loss", "mdlm, uniform, opendllm_v1, opendllm_latest, opendllm_qwen3")]   // was: silently the Qwen3 weighting
    [InlineData("train: {objective: bd3lm, loss: mdlm}", "train.loss", "not used by bd3lm")]
    [InlineData("train: {objective: bd3lm, time_sampling: antithetic}", "train.time_sampling", "train.bd3lm.time_sampling")]
    [InlineData("train: {normalization: tokens}", "train.normalization", "masked_tokens, maskable_tokens, sequence, batch")]
    [InlineData("train: {time_sampling: per_doc}", "train.time_sampling", "per_document, per_sequence, antithetic")]
    [InlineData("train: {lr: fast}", "train.lr", "bad value")]
    [InlineData("data: {packing: zip}", "data.packing", "documents, chunks")]
    [InlineData("train: {log_every: 0}", "train.log_every", "≥ 1")]
    [InlineData("train: {dtype: bf16}", "train.dtype", "float32, bfloat16")]
    [InlineData("train: {schedule: cosinus}", "train.schedule", "cosine")]
    public void BadRecipesNameTheKey(string yaml, string key, string hint)
    {
        var error = Assert.ThrowsAny<Exception>(() => Recipe.Parse("model: {preset: tiny}\n" + yaml, "bad.yaml"));
        Assert.True(error is InvalidDataException or ArgumentOutOfRangeException, error.GetType().Name);
        Assert.Contains(key, error.Message);
        Assert.Contains(hint, error.Message);
        Assert.Contains("bad.yaml", error.Message);
    }

    [Fact]
    public void LearningRateWarmsUpThenDecaysToTheFloor()
    {
        var s = LearningRateSchedule.FromRatio(1e-3, 1e-5, 0.1, 100);
        Assert.Equal(10, s.WarmupSteps);
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-3, s.At(9), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal((1e-3 + 1e-5) / 2, s.At(55), 12);
        Assert.Equal(1e-5, s.At(100), 12);
        for (long i = 10; i < 100; i++) Assert.True(s.At(i + 1) <= s.At(i));
    }
}

public sealed class TrainCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-train-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("train:\n  micro_batch_sise: 2\n", new string[0])]
    [InlineData("train:\n  lr: -1\n", new string[0])]
    [InlineData("model: {preset: tiny}\n", new[] { "--train.nope=1" })]
    [InlineData("model: {preset: tiny}\n", new[] { "not-an-override" })]
    public void BadRecipesExitWithOneAndWriteNothing(string yaml, string[] extra)
    {
        var recipe = Path.Combine(_dir, "bad.yaml");
        var output = Path.Combine(_dir, "out");
        File.WriteAllText(recipe, (yaml.StartsWith("model") ? "" : "model: {preset: tiny}\n") + yaml);
        Assert.Equal(1, OpenDllm.Cli.CliApp.Run(["train", recipe, $"--train.output_dir={output}", .. extra]));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void MissingRecipeExitsWithOne() =>
        Assert.Equal(1, OpenDllm.Cli.CliApp.Run(["train", Path.Combine(_dir, "missing.yaml")]));
}
