using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Cli;

/// <summary>One tiny checkpoint (byte tokenizer, 512 positions) trained for one step, for tests that run the CLI on a model.</summary>
public sealed class TinyCheckpoint : IDisposable
{
    public TinyCheckpoint()
    {
        using var trainer = Trainer.Create(Fixture.Recipe(System.IO.Path.Combine(Fixture.Root, "run"), steps: 1));
        Path = trainer.Run().Checkpoint!;
    }

    public TrainingFixture Fixture { get; } = new();
    public string Path { get; }
    public void Dispose() => Fixture.Dispose();
}
