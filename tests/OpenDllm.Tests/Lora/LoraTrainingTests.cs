using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Cli;
using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>train.lora with the trainer: frozen base, checkpoint layout, exact resume, refusals, and train → sample.</summary>
[Collection("Console")]
public sealed class LoraTrainingTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    static readonly string[] Lora =
        ["--train.lora.r=4", "--train.lora.alpha=8", "--train.lora.dropout=0.1", "--train.lora.target_modules=q_proj,v_proj,down_proj", "--train.lr=1e-2"];

    [Theory]
    [InlineData("mdlm")]
    [InlineData("ar")]
    public void LoraTrainsOnlyTheAdapterAndTheCheckpointIsTheMergedModelPlusAPeftAdapter(string objective)
    {
        var output = Path.Combine(_f.Root, $"lora-{objective}");
        var recipe = _f.Recipe(output, objective, 4, Lora);
        TrainSummary summary;
        string baseSha;
        using (var trainer = Trainer.Create(recipe))
        {
            Assert.NotNull(trainer.Lora);
            baseSha = trainer.Lora!.BaseSha256;
            summary = trainer.Run();
            Assert.Equal(baseSha, BaseWeights.Sha256(trainer.Model));      // the base did not move
            Assert.All(trainer.Lora.Adapters.Entries, e => Assert.True(e.Adapter.B.abs().max().item<float>() > 0));
        }
        var checkpoint = summary.Checkpoint!;
        Assert.Equal(4, Recipe.Load(Path.Combine(checkpoint, "recipe.json")).Train.Lora!.R);
        Assert.Equal(baseSha, TrainerState.Load(checkpoint).LoraBaseSha256);
        var config = PeftAdapterConfig.Load(Path.Combine(checkpoint, TrainerLora.AdapterFolder));
        Assert.Equal(new LoraOptions(4, 8, 0.1, ["q_proj", "v_proj", "down_proj"]), config.Options);

        // merged checkpoint = the recipe's base + the saved adapter
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var merged = Qwen2Model.FromPretrained(checkpoint);
        var rebuilt = ModelPresets.Build(recipe.Model, ByteTokenizer.Instance, CPU, recipe.Train.Seed);
        using var adapters = PeftAdapterIO.Load(rebuilt, Path.Combine(checkpoint, TrainerLora.AdapterFolder));
        merged.eval(); rebuilt.eval();
        var tokens = randint(0, 256, [2, 16], generator: new TorchSharp.torch.Generator(5), dtype: ScalarType.Int64);
        var policy = objective == "ar" ? AttentionPolicy.Causal : AttentionPolicy.Bidirectional;
        Fixture.AssertClose(rebuilt.forward(new ModelInput(tokens, policy)).Logits, merged.forward(new ModelInput(tokens, policy)).Logits,
                            1e-5, "merged checkpoint vs base + adapter");
    }

    /// <summary>N steps + save + resume + N steps = 2N steps, bit for bit, with adapter dropout on.</summary>
    [Fact]
    public void ResumeIsExactWithLora()
    {
        const int n = 2;
        var straight = Path.Combine(_f.Root, "lora-straight");
        var split = Path.Combine(_f.Root, "lora-split");
        using (var trainer = Trainer.Create(_f.Recipe(straight, "mdlm", 2 * n, Lora))) trainer.Run();
        using (var trainer = Trainer.Create(_f.Recipe(split, "mdlm", 2 * n, Lora)))
        {
            for (int i = 0; i < n; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(_f.Recipe(split, "mdlm", 2 * n, Lora)))
        {
            Assert.Equal(n, resumed.Step);
            resumed.Run();
        }
        foreach (var relative in new[] { "", TrainerLora.AdapterFolder })
        {
            var a = Path.Combine(CheckpointStore.Latest(straight)!, relative, relative == "" ? "model.safetensors" : PeftAdapterIO.WeightsFileName);
            var b = Path.Combine(CheckpointStore.Latest(split)!, relative, relative == "" ? "model.safetensors" : PeftAdapterIO.WeightsFileName);
            using var fa = SafetensorsFile.Open(a);
            using var fb = SafetensorsFile.Open(b);
            foreach (var e in fa.Entries) Assert.True(Fixture.Same(fa.Read(e.Name), fb.Read(e.Name)), $"{e.Name} differs after resume");
        }
    }

    [Fact]
    public void ResumingAcrossLoraSettingsIsRefusedWithTheReason()
    {
        var output = Path.Combine(_f.Root, "lora-refuse");
        using (var trainer = Trainer.Create(_f.Recipe(output, "mdlm", 1, Lora))) trainer.Run();
        var noLora = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(output, "mdlm", 2)));
        Assert.Contains("train.lora", noLora.Message);
        var otherRank = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(output, "mdlm", 2, [.. Lora, "--train.lora.r=8"])));
        Assert.Contains("r = 8", otherRank.Message);
        var otherBase = Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(output, "mdlm", 2, [.. Lora, "--model.init_std=0.05"])));
        Assert.Contains("frozen base", otherBase.Message);

        var full = Path.Combine(_f.Root, "full");
        using (var trainer = Trainer.Create(_f.Recipe(full, "mdlm", 1))) trainer.Run();
        Assert.Throws<InvalidDataException>(() => Trainer.Create(_f.Recipe(full, "mdlm", 2, Lora)));

        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => _f.Recipe(output, "mdlm", 1, "--train.lora.dropout=1.5"));
        Assert.Contains("train.lora.dropout", bad.Message);
        var unknown = Assert.Throws<InvalidDataException>(() => _f.Recipe(output, "mdlm", 1, "--train.lora.rank=4"));
        Assert.Contains("train.lora.rank", unknown.Message);
        var typo = Assert.Throws<ArgumentException>(() => Trainer.Create(_f.Recipe(Path.Combine(_f.Root, "typo"), "mdlm", 1, [.. Lora, "--train.lora.target_modules=q_prj"])));
        Assert.Contains("q_prj", typo.Message);
    }

    /// <summary>`opendllm train` with train.lora, then `opendllm sample` on the checkpoint it wrote.</summary>
    [Fact]
    public void TrainThenSampleThroughTheCli()
    {
        var output = Path.Combine(_f.Root, "lora-cli");
        var recipe = Path.Combine(_f.Root, "lora.yaml");
        File.WriteAllText(recipe, _f.Yaml(output, "mdlm", 2) + """

              lora:
                r: 4
                alpha: 8
                dropout: 0.0
                target_modules: all-linear
            """);
        Assert.Equal(0, CliApp.Run(["train", recipe]));
        var checkpoint = CheckpointStore.Latest(output)!;
        Assert.True(File.Exists(Path.Combine(checkpoint, TrainerLora.AdapterFolder, PeftAdapterConfig.FileName)));
        Assert.Equal(0, CliApp.Run(["sample", checkpoint, "--prompt", "def f(x):", "--length", "8", "--steps", "8"]));
        Assert.Equal(0, CliApp.Run(["inspect", checkpoint]));
    }
}
