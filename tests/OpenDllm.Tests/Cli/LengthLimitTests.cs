using OpenDllm.Cli;
using OpenDllm.Evaluation;
using OpenDllm.Inference;
using OpenDllm.Sampling;
using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Cli;

/// <summary>
/// Lengths beyond the model's <c>max_position_embeddings</c> (512 for the tiny model) and runs that cannot fit in memory
/// are refused before any work, with the value and the limit named.
/// </summary>
public sealed class LengthLimitTests : IClassFixture<LengthLimitTests.Checkpoint>
{
    /// <summary>One tiny trained checkpoint (byte tokenizer, 512 positions) shared by the sampling cases.</summary>
    public sealed class Checkpoint : IDisposable
    {
        public Checkpoint()
        {
            using var trainer = Trainer.Create(Fixture.Recipe(System.IO.Path.Combine(Fixture.Root, "run"), steps: 1));
            Path = trainer.Run().Checkpoint!;
        }

        public TrainingFixture Fixture { get; } = new();
        public string Path { get; }
        public void Dispose() => Fixture.Dispose();
    }

    readonly Checkpoint _c;

    public LengthLimitTests(Checkpoint checkpoint) => _c = checkpoint;

    string Recipe(string name)
    {
        var path = Path.Combine(_c.Fixture.Root, $"{name}-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, _c.Fixture.Yaml(Path.Combine(_c.Fixture.Root, name), steps: 1).Replace("shards", $"shards-{name}"));
        return path;
    }

    /// <summary>Regression: seq_len 1024 on a 512-position model trained silently.</summary>
    [Fact]
    public void ASequenceLongerThanTheModelsPositionsIsRefusedBeforePreparingData()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Trainer.Create(_c.Fixture.Recipe(Path.Combine(_c.Fixture.Root, "long"), "mdlm", 1, "--data.seq_len=1024")));
        Assert.Contains("data.seq_len = 1024 positions", e.Message);
        Assert.Contains("max_position_embeddings (512)", e.Message);

        Assert.Equal(1, CliApp.Run(["train", Recipe("long-cli"), "--data.seq_len=1024"]));
        Assert.False(Directory.Exists(Path.Combine(_c.Fixture.Root, "shards-long-cli")));
        Assert.False(Directory.Exists(Path.Combine(_c.Fixture.Root, "long-cli")));
    }

    /// <summary>Regression: seq_len 100000 ran into the OOM killer; the memory lower bound refuses it with the numbers.</summary>
    [Fact]
    public void ARunThatCannotFitInMemoryIsRefusedWithTheEstimate()
    {
        string[] huge = ["--model.config.max_position_embeddings=100000000", "--data.seq_len=50000000"];
        var e = Assert.Throws<InsufficientMemoryException>(() =>
            Trainer.Create(_c.Fixture.Recipe(Path.Combine(_c.Fixture.Root, "huge"), "mdlm", 1, huge)));
        Assert.Contains("needs at least", e.Message);
        Assert.Contains("attention mask", e.Message);
        Assert.Contains("available", e.Message);

        Assert.Equal(1, CliApp.Run(["train", Recipe("huge-cli"), .. huge]));
        Assert.False(Directory.Exists(Path.Combine(_c.Fixture.Root, "shards-huge-cli")));
    }

    /// <summary>Regression: sample --length beyond the positions ran (and at 100000 aborted in libtorch after a minute).</summary>
    [Fact]
    public void SampleLengthBeyondThePositionsIsAnError()
    {
        Assert.Equal(1, CliApp.Run(["sample", _c.Path, "--prompt", "def f(", "--length", "1024", "--steps", "2"]));
        var pipeline = DiffusionPipeline.Load(_c.Path);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Complete("def f(", 1024, new MaskedDiffusionSampler(new() { Steps = 2 })));
        Assert.Contains("prompt 6 tokens + length 1024 = 1030 positions", e.Message);
        Assert.Contains("max_position_embeddings (512)", e.Message);
        Assert.Equal(0, CliApp.Run(["sample", _c.Path, "--prompt", "def f(", "--length", "4", "--steps", "2"]));
    }

    /// <summary>Regression: infill accepted --length 0, and a 150 KB prefix ran for minutes.</summary>
    [Fact]
    public void InfillLengthsAreChecked()
    {
        var prefix = Path.Combine(_c.Fixture.Root, $"prefix-{Guid.NewGuid():N}.py");
        var suffix = Path.Combine(_c.Fixture.Root, $"suffix-{Guid.NewGuid():N}.py");
        File.WriteAllText(prefix, "def f(x):\n    return ");
        File.WriteAllText(suffix, "\n");
        Assert.Equal(1, CliApp.Run(["infill", _c.Path, "--prefix-file", prefix, "--suffix-file", suffix, "--length", "0"]));
        Assert.Equal(0, CliApp.Run(["infill", _c.Path, "--prefix-file", prefix, "--suffix-file", suffix, "--length", "3", "--steps", "3"]));

        File.WriteAllText(prefix, string.Concat(Enumerable.Repeat("x = 1\n", 25_000)));            // 150 KB
        Assert.Equal(1, CliApp.Run(["infill", _c.Path, "--prefix-file", prefix, "--suffix-file", suffix, "--length", "3"]));
        var pipeline = DiffusionPipeline.Load(_c.Path);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            pipeline.Infill(File.ReadAllText(prefix), "\n", 3, new MaskedDiffusionSampler(new() { Steps = 3 })));
        Assert.Contains("prefix 150000 tokens + length 3 + suffix 1 tokens = 150004 positions", e.Message);
        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Infill("a", "b", 0, new MaskedDiffusionSampler()));
        Assert.Contains("at least 1", zero.Message);
    }

    /// <summary>
    /// Regression: a HumanEval-Infill task (349 + 41 + 211 byte tokens) stopped a whole evaluation on the 512-position model.
    /// The eval cuts the context next to the gap instead: prefix on the left, suffix on the right, and says so.
    /// </summary>
    [Fact]
    public void AnEvalContextLongerThanTheModelIsCutAroundTheGap()
    {
        var pipeline = DiffusionPipeline.Load(_c.Path);
        string prefix = string.Concat(Enumerable.Range(0, 70).Select(i => $"a{i:D3}\n")), suffix = string.Concat(Enumerable.Range(0, 50).Select(i => $"b{i:D3}\n"));
        var fitted = ContextWindow.FitInfill(pipeline, prefix, suffix, 41, 300);
        Assert.True(fitted.Truncated);
        Assert.True(pipeline.TokenCount(fitted.Prefix) + 41 + pipeline.TokenCount(fitted.Suffix) <= 300);
        Assert.EndsWith("a069\n", fitted.Prefix);
        Assert.StartsWith("b000\n", fitted.Suffix);
        Assert.Equal(129, pipeline.TokenCount(fitted.Prefix));                       // half of the 259 positions left
        Assert.Equal(130, pipeline.TokenCount(fitted.Suffix));

        var shortSuffix = ContextWindow.FitInfill(pipeline, prefix, "end\n", 41, 300);   // the suffix fits: the prefix gets the rest
        Assert.Equal("end\n", shortSuffix.Suffix);
        Assert.Equal(300 - 41 - 4, pipeline.TokenCount(shortSuffix.Prefix));

        var whole = ContextWindow.FitInfill(pipeline, "def f(", ")\n", 3, 512);
        Assert.Equal(("def f(", ")\n", false), (whole.Prefix, whole.Suffix, whole.Truncated));
        var completion = ContextWindow.FitCompletion(pipeline, prefix, 100, 300);
        Assert.Equal(200, pipeline.TokenCount(completion.Prefix));
        Assert.EndsWith("a069\n", completion.Prefix);
        Assert.Equal(512, ContextWindow.Budget(pipeline, 2048));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ContextWindow.FitCompletion(pipeline, "x", 512, 512));
        Assert.Contains("512 tokens to generate leave no room", e.Message);
        Assert.NotNull(pipeline.Infill(fitted.Prefix, fitted.Suffix, 41, new MaskedDiffusionSampler(new() { Steps = 2 })).Text);
    }
}
