using OpenDllm.Checkpoints;
using OpenDllm.Methods.A2d;
using OpenDllm.Tests.Training;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.A2d;

/// <summary>AR → diffusion adaptation through the trainer (SPEC §3): the teacher stays frozen; λ = 0 is MDLM bit for bit.</summary>
public sealed class A2dTrainingTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    static Dictionary<string, Tensor> Snapshot(IEnumerable<(string Name, Tensor Value)> tensors) =>
        tensors.ToDictionary(p => p.Name, p => p.Value.detach().clone());

    /// <summary>Over several steps the teacher's weights never change and never get a gradient, while the student trains.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheTeacherStaysFrozenWhileTheStudentTrains(bool lora)
    {
        string[] overrides = lora
            ? ["--train.a2d.align_weight=10", "--train.lora.r=2", "--train.lora.alpha=4", "--train.lr=3e-2"]
            : ["--train.a2d.align_weight=10"];
        using var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, $"a2d-{lora}"), "a2d", 3, overrides));
        var method = Assert.IsType<A2dMethod>(trainer.Method);
        var teacher = method.Teacher!;
        var before = Snapshot(teacher.Parameters.Select((p, i) => ($"{i}", (Tensor)p)));
        var initial = Snapshot(trainer.Model.state_dict().Select(kv => (kv.Key, kv.Value)));
        Assert.All(teacher.Parameters, p => Assert.False(p.requires_grad));

        for (int i = 0; i < 3; i++) trainer.TrainStep();

        Assert.All(teacher.Parameters, p => Assert.True(p.grad is null, "a teacher parameter has a gradient"));
        foreach (var (p, i) in teacher.Parameters.Select((p, i) => (p, i)))
            Assert.True(Fixture.Same(before[$"{i}"], p), $"teacher parameter {i} changed");
        // the student moved (its merged weights under LoRA), so a teacher sharing its storage would have been caught
        var trained = lora ? MergedWeights(trainer) : Snapshot(trainer.Model.state_dict().Select(kv => (kv.Key, kv.Value)));
        Assert.Contains(trained, kv => !Fixture.Same(initial[kv.Key], kv.Value));
        // the teacher is the initial model: its weights equal the student's before the first step (LoRA: the base)
        var teacherWeights = teacher.Parameters.ToList();
        Assert.Equal(initial.Count, teacherWeights.Count);
        Assert.All(initial.Values.Zip(teacherWeights), pair => Assert.True(Fixture.Same(pair.First, pair.Second)));
        // a checkpoint holds the student only
        var checkpoint = trainer.SaveCheckpoint();
        using var saved = SafetensorsCheckpoint.Open(checkpoint);
        Assert.Equal(initial.Keys.Order(), saved.Names.Order());
    }

    static Dictionary<string, Tensor> MergedWeights(Trainer trainer)
    {
        using (trainer.Lora!.Adapters.MergedScope())
            return Snapshot(trainer.Model.state_dict().Select(kv => (kv.Key, kv.Value)));
    }

    /// <summary>
    /// λ = 0 builds no teacher and trains exactly as <c>objective: mdlm</c>: same losses and same weights, bit for bit
    /// (the random draws are consumed identically).
    /// </summary>
    [Fact]
    public void ZeroAlignWeightIsPlainMdlmBitForBit()
    {
        (List<double> Losses, Dictionary<string, Tensor> Weights) Train(string objective, params string[] overrides)
        {
            using var trainer = Trainer.Create(_f.Recipe(Path.Combine(_f.Root, objective), objective, 4, overrides));
            if (trainer.Method is A2dMethod a2d) Assert.Null(a2d.Teacher);
            var losses = Enumerable.Range(0, 4).Select(_ => trainer.TrainStep().Loss).ToList();
            return (losses, Snapshot(trainer.Model.state_dict().Select(kv => (kv.Key, kv.Value))));
        }
        var mdlm = Train("mdlm", "--train.loss=uniform", "--train.path_loss=plain");
        var a2d = Train("a2d", "--train.loss=uniform", "--train.path_loss=plain", "--train.a2d.align_weight=0");
        Assert.Equal(mdlm.Losses, a2d.Losses);
        foreach (var (name, value) in mdlm.Weights)
            Assert.True(Fixture.Same(value, a2d.Weights[name]), $"{name} differs");
    }

    /// <summary>With alignment the loss differs from plain MDLM from the first step (the term is really added) and the metrics are logged.</summary>
    [Fact]
    public void AlignmentChangesTheLossAndLogsBothTerms()
    {
        var output = Path.Combine(_f.Root, "aligned");
        using (var trainer = Trainer.Create(_f.Recipe(output, "a2d", 2, "--train.a2d.align_weight=10", "--train.a2d.teacher_dtype=bf16")))
        {
            Assert.Equal(ScalarType.BFloat16, ((A2dMethod)trainer.Method).Teacher!.Dtype);
            trainer.Run();
        }
        var steps = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Where(r => r.ContainsKey("loss")).ToList();
        Assert.Equal(2, steps.Count);
        foreach (var r in steps)
        {
            double loss = (double)r["loss"]!, mdm = (double)r["mdm_loss"]!, align = (double)r["align_loss"]!;
            Assert.InRange(align, 1e-6, 2.0);
            Assert.Equal(mdm + 10 * align, loss, 3);   // every micro-batch here has masked targets
        }
    }
}
