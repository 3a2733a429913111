using OpenDllm.Methods.Bd3lm;
using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Methods.Bd3lm;

/// <summary>BD3LM end to end on the tiny fixture corpus: the bound falls, and an MDLM checkpoint fine-tunes into BD3LM.</summary>
public sealed class Bd3lmTrainingTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void ATinyRunLowersTheBound()
    {
        var output = Path.Combine(_f.Root, "bd3lm");
        using var trainer = Trainer.Create(_f.Recipe(output, "bd3lm", steps: 12, "--train.bd3lm.block_size=8", "--train.lr=1e-2"));
        Assert.IsType<Bd3lmMethod>(trainer.Method);
        var summary = trainer.Run();
        Assert.Equal("val_nelbo_bits", summary.First!.Metric);
        Assert.True(summary.Last!.BitsPerToken < summary.First.BitsPerToken,
            $"bound {summary.First.BitsPerToken} → {summary.Last.BitsPerToken}");
        Assert.True(summary.Last.Tokens > 0);
    }

    [Fact]
    public void AnMdlmCheckpointFineTunesIntoBd3lm()
    {
        string mdlm;
        using (var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "mdlm"), "mdlm", steps: 2)))
            mdlm = trainer.Run().Checkpoint!;
        var output = Path.Combine(_f.Root, "bd3lm-ft");
        using var fineTune = Trainer.Create(_f.Recipe(output, "bd3lm", steps: 3, "--train.bd3lm.block_size=8",
            $"--model.init_from={mdlm}", "--model.preset=null", "--model.config=null", "--model.shifted_logits=false"));
        // it starts from the MDLM weights
        var loaded = OpenDllm.Models.Qwen2Model.FromPretrained(mdlm);
        var a = fineTune.Model.state_dict();
        foreach (var (name, value) in loaded.state_dict())
            Assert.True(value.eq(a[name]).all().item<bool>(), name);
        var summary = fineTune.Run();
        Assert.Equal(3, summary.Steps);
        Assert.True(double.IsFinite(summary.Last!.BitsPerToken));
        Assert.True(Directory.Exists(summary.Checkpoint));
    }

    [Fact]
    public void AnMdlmCheckpointWithTheDefaultShiftIsRefused()
    {
        string mdlm;
        using (var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "mdlm2"), "mdlm", steps: 1)))
            mdlm = trainer.Run().Checkpoint!;
        var e = Assert.ThrowsAny<Exception>(() => Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "ft2"), "bd3lm", steps: 1,
            "--train.bd3lm.block_size=8", $"--model.init_from={mdlm}", "--model.preset=null", "--model.config=null")));
        Assert.Contains("model.shifted_logits", e.Message);
    }
}
