using OpenDllm.Checkpoints;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary><c>train.freeze_layers</c> (SPEC §3): frozen weights never change, the tied head is reported, resume stays exact.</summary>
public sealed class FreezeLayersTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>
    /// The tiny preset ties the head to the embeddings: <c>lm_head</c> freezes <c>model.embed_tokens.weight</c> and says so;
    /// frozen weights are bit-identical after training steps while an MLP weight moved.
    /// </summary>
    [Fact]
    public void FrozenWeightsStayUnchangedAndTheTiedHeadIsReported()
    {
        var lines = new List<string>();
        using var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "frozen"), "mdlm", 3, "--train.freeze_layers=LM_HEAD, mlp.up"), log: lines.Add);
        var frozen = trainer.Frozen!;
        Assert.Contains("model.embed_tokens.weight", frozen.Names);
        Assert.Contains(frozen.Names, n => n.Contains("mlp.up_proj"));
        Assert.DoesNotContain(frozen.Names, n => n.Contains("mlp.down_proj"));
        Assert.Contains(frozen.TiedHits, h => h.Contains("lm_head") && h.Contains("freezes both"));
        Assert.Contains(lines, l => l.Contains("train.freeze_layers: froze") && l.Contains("tied"));
        var before = trainer.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        foreach (var (name, value) in trainer.Model.state_dict())
        {
            bool same = Fixture.Same(before[name], value);
            if (frozen.Names.Contains(name)) Assert.True(same, $"{name} is frozen but changed");
            else if (name.Contains("down_proj")) Assert.False(same, $"{name} is trainable but did not change");
        }
    }

    [Fact]
    public void APatternThatMatchesNothingIsAnErrorNamingIt()
    {
        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "none"), "mdlm", 1, "--train.freeze_layers=embed_tokens,encoder")));
        Assert.Contains("'encoder'", e.Message);
        Assert.Contains("train.freeze_layers", e.Message);
    }

    /// <summary>Resume with frozen parameters is exact (weights and optimizer state), and a changed freeze list is refused.</summary>
    [Fact]
    public void ResumeWithFrozenParametersIsExact()
    {
        const string freeze = "--train.freeze_layers=embed_tokens,layers.0.";
        var straight = Path.Combine(_f.Root, "straight");
        var split = Path.Combine(_f.Root, "split");
        using (var trainer = Trainer.Create(_f.Recipe(straight, "mdlm", 4, freeze))) trainer.Run();
        using (var trainer = Trainer.Create(_f.Recipe(split, "mdlm", 4, freeze)))
        {
            trainer.TrainStep(); trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        var changed = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(split, "mdlm", 4, "--train.freeze_layers=embed_tokens")));
        Assert.Contains("freeze_layers", changed.Message);
        using (var resumed = Trainer.Create(_f.Recipe(split, "mdlm", 4, freeze)))
        {
            Assert.Equal(2, resumed.Step);
            resumed.Run();
        }
        using var a = SafetensorsCheckpoint.Open(CheckpointStore.Latest(straight)!);
        using var b = SafetensorsCheckpoint.Open(CheckpointStore.Latest(split)!);
        foreach (var name in a.Names)
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), $"{name} differs after resume");
    }
}
