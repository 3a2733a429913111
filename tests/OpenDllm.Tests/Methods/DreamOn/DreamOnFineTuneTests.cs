using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Methods.DreamOn;
using OpenDllm.Models;
using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Methods.DreamOn;

/// <summary>
/// DreamOn as a fine-tune (recipes/dreamon-ft-tiny.yaml): an MDLM checkpoint with the tokenizer's 262 rows, grown to 264 by
/// <c>model.config.vocab_size</c>, trains, saves the grown config, and resumes exactly.
/// </summary>
public sealed class DreamOnFineTuneTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    Recipe FineTune(string baseCheckpoint, string output) =>
        _f.Recipe(output, DreamOnMethod.MethodName, 4, "--train.dreamon.max_middle_tokens=16") with
        {
            Model = new ModelSection { InitFrom = baseCheckpoint, ShiftedLogits = false, Config = new JsonObject { ["vocab_size"] = 264 } },
        };

    [Fact]
    public void AGrownMdlmCheckpointFineTunesSavesTheGrownConfigAndResumesExactly()
    {
        string baseCheckpoint;
        using (var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "mdlm"), "mdlm", 2)))
            baseCheckpoint = trainer.Run().Checkpoint!;
        Assert.Equal(262, PretrainedModels.VocabSize(baseCheckpoint));

        var straight = Path.Combine(_f.Root, "straight");
        var split = Path.Combine(_f.Root, "split");
        using (var trainer = Trainer.Create(FineTune(baseCheckpoint, straight)))
            trainer.Run();
        using (var trainer = Trainer.Create(FineTune(baseCheckpoint, split)))
        {
            Assert.Equal(264, trainer.Model.VocabSize);
            trainer.TrainStep();
            trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(FineTune(baseCheckpoint, split)))
        {
            Assert.NotNull(resumed.ResumedFrom);
            resumed.Run();
        }
        var final = CheckpointStore.Latest(split)!;
        Assert.Equal(264, PretrainedModels.VocabSize(final));
        using var a = SafetensorsCheckpoint.Open(CheckpointStore.Latest(straight)!);
        using var b = SafetensorsCheckpoint.Open(final);
        Assert.Equal(a.Names, b.Names);
        foreach (var name in a.Names)
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), $"{name} differs after resume");
        using var loaded = PretrainedModels.Load(final);
        Assert.Equal(264, loaded.VocabSize);
    }
}
