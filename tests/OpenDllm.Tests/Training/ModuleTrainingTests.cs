using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Data;
using OpenDllm.Interactive;
using OpenDllm.Models;
using OpenDllm.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary>
/// A method that trains modules of its own around a frozen language model (<see cref="IModuleTrainingMethod"/>, the shape
/// of LDLM) trains with the plug-in trainer: its modules are optimised, saved and resumed; the model is frozen and unsaved.
/// </summary>
public sealed class ModuleTrainingTests : IDisposable
{
    const string Name = "test-linear-probe";
    readonly TrainingFixture _f = new();

    public ModuleTrainingTests() => TrainingMethods.Register(Name, context => new LinearProbe(context));

    public void Dispose() => _f.Dispose();

    /// <summary>
    /// A linear probe over the frozen model's final hidden states predicting each (unmasked) token. The model runs with grad
    /// enabled: only the trainer's freezing keeps it out of training. Logs <c>probe_acc</c> per step, reports
    /// <c>probe_acc</c> as a bound extra and a host-computed <c>first_token_mean</c>, and records the modes it ran in.
    /// </summary>
    sealed class LinearProbe : IModuleTrainingMethod, IExtraValidation, IDisposable
    {
        readonly Linear _probe;

        public LinearProbe(TrainingMethodContext context)
        {
            Model = context.Model;
            var device = Model.HeadWeight.device;
            long width = Model.HeadWeight.shape[1];
            _probe = nn.Linear(width, Model.VocabSize, device: device);
            using var generator = new Generator(11, device);
            using (no_grad())
            {
                _probe.weight!.copy_(randn([Model.VocabSize, width], generator: generator, device: device) * 0.02);
                _probe.bias!.zero_();
            }
        }

        public string Name => ModuleTrainingTests.Name;
        public LanguageModel Model { get; }
        public nn.Module Trained => _probe;
        public AttentionPolicy Attention => AttentionPolicy.Bidirectional;
        public string BoundMetric => "val_probe_bits";
        /// <summary>(model.training, probe.training) at each Loss / Bound call.</summary>
        public List<(bool Model, bool Probe)> LossModes { get; } = [];
        public List<(bool Model, bool Probe)> BoundModes { get; } = [];

        (Tensor Ce, Tensor Correct, Tensor Real) Probe(PackedBatch batch)
        {
            var hidden = Model.ForwardToHead(batch.ToModelInput(AttentionPolicy.Bidirectional)).Hidden;   // [B, L, D]
            var logits = _probe.forward(hidden);                                                             // [B, L, V]
            var real = batch.KeyPadding;                                                                     // [B, L] true = token
            var ce = nn.functional.cross_entropy(logits.flatten(0, 1), batch.Tokens.flatten(), reduction: nn.Reduction.None).view_as(batch.Tokens);
            var correct = logits.argmax(-1).eq(batch.Tokens).logical_and(real);
            return (ce * real, correct, real);
        }

        public MethodLoss Loss(PackedBatch batch, Generator generator)
        {
            LossModes.Add((Model.training, _probe.training));
            using var scope = NewDisposeScope();
            var (ce, correct, real) = Probe(batch);
            var n = real.sum().to(ScalarType.Float32);
            var accuracy = (correct.sum().to(ScalarType.Float64) / n.to(ScalarType.Float64)).detach();
            return new MethodLoss((ce.sum() / n).MoveToOuterDisposeScope(),
                new Dictionary<string, Tensor> { ["probe_acc"] = accuracy.MoveToOuterDisposeScope() });
        }

        public BoundTerms Bound(PackedBatch batch, Generator generator)
        {
            BoundModes.Add((Model.training, _probe.training));
            using var scope = NewDisposeScope();
            var (ce, correct, real) = Probe(batch);
            return new BoundTerms(ce.to(ScalarType.Float64).sum(), real.sum())
            {
                Extras = new Dictionary<string, ValidationSum> { ["probe_acc"] = new(correct.sum(), real.sum()) },
            }.MoveToOuterDisposeScope();
        }

        public IReadOnlyDictionary<string, double> Validate(PackedLoader validation, int batches, long seed, long step)
        {
            using var batch = validation.InOrder().First();
            return new Dictionary<string, double> { ["first_token_mean"] = batch.Tokens.to(ScalarType.Float64).mean().item<double>() };
        }

        public void Save(string directory) => StateDictIO.Save(_probe, Path.Combine(directory, "probe"));

        public void Load(string directory) => StateDictIO.Load(_probe, Path.Combine(directory, "probe"));

        public string? CheckHealth()
        {
            using var scope = NewDisposeScope();
            var output = _probe.forward(ones(1, _probe.weight!.shape[1], device: _probe.weight.device));
            return output.isfinite().all().item<bool>() ? null : "the probe gives non-finite logits";
        }

        public void Dispose() => _probe.Dispose();
    }

    static Dictionary<string, Tensor> Snapshot(LanguageModel model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    [Fact]
    public void TrainsItsModulesLeavesTheFrozenModelBitIdenticalAndSavesOnlyTheModules()
    {
        var output = Path.Combine(_f.Root, "probe");
        var notes = new List<string>();
        TrainSummary summary;
        Dictionary<string, Tensor> before;
        using (var trainer = Trainer.Create(_f.Recipe(output, Name, steps: 12, "--train.lr=1e-2", "--train.eval_every=6"), log: notes.Add))
        {
            var method = Assert.IsType<LinearProbe>(trainer.Method);
            Assert.True(trainer.TrainsOwnModules);
            Assert.Equal(32L * 262 + 262, trainer.TrainedParameterCount);
            Assert.All(trainer.Model.parameters(), p => Assert.False(p.requires_grad));
            Assert.Contains(notes, n => n.Contains(Name) && n.Contains("frozen"));
            before = Snapshot(trainer.Model);
            summary = trainer.Run();
            Assert.All(method.LossModes, m => Assert.Equal((false, true), m));       // the LM in eval, the probe training
            Assert.All(method.BoundModes, m => Assert.Equal((false, false), m));     // both in eval for validation
            Assert.NotEmpty(method.BoundModes);
            foreach (var (name, weight) in trainer.Model.state_dict())
                Assert.True(Fixture.Same(before[name], weight), $"{name} of the frozen model changed");
        }
        Assert.Equal("val_probe_bits", summary.Last!.Metric);
        Assert.True(summary.Last.BitsPerToken < summary.First!.BitsPerToken - 0.5,
            $"the probe's bound did not fall: {summary.First.BitsPerToken:F3} → {summary.Last.BitsPerToken:F3} bits/token");

        var checkpoint = summary.Checkpoint!;
        foreach (var file in new[] { "probe/model.safetensors", "optimizer.bin", TrainerState.FileName, "recipe.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(checkpoint, file)), $"{file} missing from the checkpoint");
        Assert.False(File.Exists(Path.Combine(checkpoint, "model.safetensors")), "the frozen model was saved");
        Assert.False(File.Exists(Path.Combine(checkpoint, "config.json")), "the frozen model was saved");
        Assert.Equal(checkpoint, CheckpointStore.Latest(output));                       // complete without model weights

        var records = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName));
        var evals = records.Where(r => r.ContainsKey("val_probe_bits")).ToList();
        Assert.Equal(3, evals.Count);                                                   // steps 0, 6, 12
        Assert.All(evals, r => Assert.InRange((double)r["val_probe_acc"]!, 0.0, 1.0));
        Assert.True((double)evals[^1]["val_probe_acc"]! > (double)evals[0]["val_probe_acc"]!);
        Assert.All(evals, r => Assert.InRange((double)r["val_first_token_mean"]!, 1.0, 261.0));
        Assert.Equal(12, records.Count(r => r.ContainsKey("probe_acc")));

        var run = TrainingRun.Load(output);
        Assert.Equal(["probe_acc"], run.StepMetricNames);
        Assert.Equal(["val_probe_bits", "val_probe_acc", "val_first_token_mean"], run.ValidationMetricNames);
        Assert.Equal(3, run.Metrics["val_probe_acc"].Values.Count);
        Assert.Equal(12, run.Metrics["probe_acc"].Steps.Count);
    }

    /// <summary>N steps + save + resume + N steps gives the same probe weights and losses as 2N steps, bit for bit.</summary>
    [Fact]
    public void ResumeIsExact()
    {
        const int n = 3;
        var straight = Path.Combine(_f.Root, "straight");
        var split = Path.Combine(_f.Root, "split");
        using (var trainer = Trainer.Create(_f.Recipe(straight, Name, steps: 2 * n, "--train.lr=1e-2")))
            trainer.Run();
        using (var trainer = Trainer.Create(_f.Recipe(split, Name, steps: 2 * n, "--train.lr=1e-2")))
        {
            for (int i = 0; i < n; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        using (var resumed = Trainer.Create(_f.Recipe(split, Name, steps: 2 * n, "--train.lr=1e-2")))
        {
            Assert.NotNull(resumed.ResumedFrom);
            Assert.Equal(n, resumed.Step);
            resumed.Run();
        }
        using var a = SafetensorsCheckpoint.Open(Path.Combine(CheckpointStore.Latest(straight)!, "probe"));
        using var b = SafetensorsCheckpoint.Open(Path.Combine(CheckpointStore.Latest(split)!, "probe"));
        Assert.Equal(a.Names, b.Names);
        foreach (var name in a.Names)
            Assert.True(Fixture.Same(a.Read(name), b.Read(name)), $"{name} differs after resume");
        static List<double> Losses(string run) =>
            MetricsLog.Read(Path.Combine(run, MetricsLog.FileName)).Where(m => m.ContainsKey("loss")).Select(m => (double)m["loss"]!).ToList();
        Assert.Equal(Losses(straight).Skip(n), Losses(split).TakeLast(n));
        Assert.NotEqual(Losses(straight)[0], Losses(straight)[^1]);                     // it trained
    }

    [Theory]
    [InlineData("--train.lora.r=4", "train.lora")]
    [InlineData("--train.freeze_layers=mlp", "train.freeze_layers")]
    [InlineData("--train.precision=bf16_mixed", "train.precision")]
    [InlineData("--train.precision=bf16", "train.precision")]
    public void SettingsThatDoNotApplyToAFrozenModelAreRefusedByName(string setting, string key)
    {
        var output = Path.Combine(_f.Root, "refused");
        var e = Assert.ThrowsAny<ArgumentException>(() => Trainer.Create(_f.Recipe(output, Name, 1, setting)));
        Assert.StartsWith(key, e.Message);
        Assert.Contains(Name, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(Path.Combine(output, MetricsLog.FileName)));
    }
}
