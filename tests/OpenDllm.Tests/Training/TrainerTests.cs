using OpenDllm.Checkpoints;
using OpenDllm.Models;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Theory]
    [InlineData("mdlm")]
    [InlineData("ar")]
    public void SmokeRunTrainsEvaluatesAndSavesALoadableCheckpoint(string objective)
    {
        var output = Path.Combine(_f.Root, $"run-{objective}");
        TrainSummary summary;
        using (var trainer = Trainer.Create(_f.Recipe(output, objective, steps: 12, "--train.lr=1e-2")))
            summary = trainer.Run();
        Assert.Equal(12, summary.Steps);
        Assert.NotNull(summary.First);
        Assert.True(summary.Last!.BitsPerToken < summary.First!.BitsPerToken,
            $"{summary.Last.Metric}: {summary.First.BitsPerToken:F3} → {summary.Last.BitsPerToken:F3} bits/token did not fall");
        var metrics = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName));
        Assert.Equal(12, metrics.Count(m => m.ContainsKey("loss")));
        Assert.Equal(2, metrics.Count(m => m.ContainsKey(summary.Last.Metric)));
        var model = Qwen2Model.FromPretrained(summary.Checkpoint!);                        // a plain HF directory
        Assert.Equal(objective == "mdlm" ? 258 : 258, model.Config.MaskTokenId);
        Assert.True(File.Exists(Path.Combine(summary.Checkpoint!, "tokenizer_config.json")));
    }

    /// <summary>N steps + save + resume + N steps gives the same weights and losses as 2N steps, bit for bit.</summary>
    [Fact]
    public void ResumeIsExact()
    {
        const int n = 3;
        var straight = Path.Combine(_f.Root, "straight");
        var split = Path.Combine(_f.Root, "split");
        using (var trainer = Trainer.Create(_f.Recipe(straight, steps: 2 * n)))
            trainer.Run();
        using (var trainer = Trainer.Create(_f.Recipe(split, steps: 2 * n)))
        {
            for (int i = 0; i < n; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(_f.Recipe(split, steps: 2 * n)))
        {
            Assert.NotNull(resumed.ResumedFrom);
            Assert.Equal(n, resumed.Step);
            resumed.Run();
        }
        using var a = SafetensorsCheckpoint.Open(CheckpointStore.Latest(straight)!);
        using var b = SafetensorsCheckpoint.Open(CheckpointStore.Latest(split)!);
        Assert.Equal(a.Names, b.Names);
        foreach (var name in a.Names)
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), $"{name} differs after resume");
        var lossesA = MetricsLog.Read(Path.Combine(straight, MetricsLog.FileName)).Where(m => m.ContainsKey("loss")).Select(m => (double)m["loss"]!).ToList();
        var lossesB = MetricsLog.Read(Path.Combine(split, MetricsLog.FileName)).Where(m => m.ContainsKey("loss")).Select(m => (double)m["loss"]!).ToList();
        Assert.Equal(lossesA.Skip(n), lossesB.TakeLast(n));
    }

    [Fact]
    public void KeepsOnlyTheLastCheckpoints()
    {
        var output = Path.Combine(_f.Root, "keep");
        using (var trainer = Trainer.Create(_f.Recipe(output, "mdlm", 5, "--train.save_every=1", "--train.keep_last=2")))
            trainer.Run();
        Assert.Equal([4L, 5L], CheckpointStore.List(output).Select(c => c.Step));
        Assert.Empty(Directory.EnumerateDirectories(output, ".*"));                       // no temporary folders left
    }

    /// <summary>
    /// Regression (CI flake): with lr = 1e30 a step can have a finite loss and still leave weights that are NaN, or so large
    /// that the next forward pass overflows; that step used to be saved as the "last good" checkpoint. Saving now checks
    /// the weights, so whichever way this run breaks, every checkpoint left has finite weights and a finite forward pass.
    /// </summary>
    [Fact]
    public void DivergenceStopsWithAClearMessageAndKeepsTheLastGoodCheckpoint()
    {
        var output = Path.Combine(_f.Root, "nan");
        using (var trainer = Trainer.Create(_f.Recipe(output, steps: 1)))
            trainer.Run();
        var first = CheckpointStore.Latest(output)!;
        var firstBytes = File.ReadAllBytes(Path.Combine(first, "model.safetensors"));
        using var diverging = Trainer.Create(_f.Recipe(output, "mdlm", 50, "--train.lr=1e30", "--train.save_every=1"));
        var error = Assert.Throws<TrainingDivergedException>(() => diverging.Run());
        Assert.Matches("the loss is|not finite|non-finite", error.Message);
        var lastGood = CheckpointStore.Latest(output)!;
        Assert.Contains(lastGood, error.Message);
        foreach (var (_, checkpoint) in CheckpointStore.List(output))
            AssertHealthy(checkpoint);
        Assert.Equal(firstBytes, File.ReadAllBytes(Path.Combine(first, "model.safetensors")));
        Assert.Empty(Directory.EnumerateDirectories(output, ".*"));
    }

    static void AssertHealthy(string checkpoint)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = Qwen2Model.FromPretrained(checkpoint);
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.isfinite().all().item<bool>(), $"{checkpoint}: {name} is not finite");
        foreach (var policy in new[] { OpenDllm.Attention.AttentionPolicy.Causal, OpenDllm.Attention.AttentionPolicy.Bidirectional })
            Assert.True(model.Logits(arange(4).unsqueeze(0), policy).log_softmax(-1).isfinite().all().item<bool>(), $"{checkpoint}: non-finite forward");
    }

    [Theory]
    [InlineData("NaN", "NaN or infinite")]
    [InlineData("huge", "non-finite log-probabilities")]
    public void BrokenWeightsAreNeverSaved(string damage, string expected)
    {
        var output = Path.Combine(_f.Root, "broken-" + damage);
        using var trainer = Trainer.Create(_f.Recipe(output, steps: 4));
        trainer.TrainStep();
        var saved = trainer.SaveCheckpoint();
        trainer.TrainStep();
        using (no_grad())
        {
            if (damage == "NaN") trainer.Model.parameters().Skip(3).First().view(-1)[0] = tensor(float.NaN);
            else  // finite (3e38 < float.MaxValue) but q·k overflows in the next forward pass
                foreach (var (name, p) in trainer.Model.named_parameters().Where(n => n.name.EndsWith("q_proj.bias", StringComparison.Ordinal)))
                    p.fill_(3e38);
        }
        var error = Assert.Throws<TrainingDivergedException>(() => trainer.SaveCheckpoint());
        Assert.Contains(expected, error.Message);
        Assert.Contains(saved, error.Message);                                       // names the last good checkpoint
        Assert.Equal([1L], CheckpointStore.List(output).Select(c => c.Step));        // step 2 was not written
        Assert.Empty(Directory.EnumerateDirectories(output, ".*"));
    }

    [Fact]
    public void IncompatibleCheckpointInTheOutputFolderIsRefused()
    {
        var output = Path.Combine(_f.Root, "incompatible");
        using (var trainer = Trainer.Create(_f.Recipe(output, steps: 1)))
            trainer.Run();
        var error = Assert.ThrowsAny<Exception>(() => Trainer.Create(_f.Recipe(output, "mdlm", 2, "--model.config.hidden_size=48")));
        Assert.True(error is CheckpointMismatchException or InvalidDataException, error.GetType().Name);
        Assert.Contains("model.embed_tokens.weight", error.Message);
        var objective = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(output, "ar", steps: 2)));
        Assert.Contains("incompatible checkpoint", objective.Message);
    }
}

public sealed class TrainingObjectiveTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>Regression: the padded tail of an epoch (document id −1) must not break per-document time sampling.</summary>
    [Theory]
    [InlineData("mdlm")]
    [InlineData("ar")]
    public void EveryValidationBatchIncludingThePaddedTailGivesAFiniteBound(string objective)
    {
        using var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "bound-" + objective), objective, 1, "--train.eval_batches=100000"));
        var result = trainer.Evaluate();                                   // every validation batch, the padded tail included
        Assert.True(double.IsFinite(result.BitsPerToken) && result.BitsPerToken > 0, $"{result.Metric} = {result.BitsPerToken}");
        Assert.True(result.Tokens > 0);
    }
}

public sealed class CheckpointStoreTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void ReSavingAStepReplacesItAndAnInterruptedReplaceIsRecovered()
    {
        CheckpointStore.Save(_dir, 5, keepLast: 3, d => File.WriteAllText(Path.Combine(d, "a"), "first"));
        var path = CheckpointStore.Save(_dir, 5, keepLast: 3, d => File.WriteAllText(Path.Combine(d, "a"), "second"));
        Assert.Equal("second", File.ReadAllText(Path.Combine(path, "a")));
        // a crash between the two renames of a re-save: only the hidden .old folder is left
        Directory.Move(path, Path.Combine(_dir, $".{CheckpointStore.NameOf(5)}.tmp-0123.old"));
        Assert.Equal([5L], CheckpointStore.List(_dir).Select(c => c.Step));
        Assert.Equal("second", File.ReadAllText(Path.Combine(CheckpointStore.Latest(_dir)!, "a")));
    }

    [Fact]
    public void AFailedWriteLeavesNoFolderAndKeepsThePrevious()
    {
        CheckpointStore.Save(_dir, 1, keepLast: 3, d => File.WriteAllText(Path.Combine(d, "a"), "ok"));
        Assert.Throws<IOException>(() => CheckpointStore.Save(_dir, 2, keepLast: 3, _ => throw new IOException("disk full")));
        Assert.Equal([1L], CheckpointStore.List(_dir).Select(c => c.Step));
        Assert.Single(Directory.EnumerateDirectories(_dir));
    }
}
