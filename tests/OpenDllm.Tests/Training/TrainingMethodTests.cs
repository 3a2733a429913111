using System.Text.Json.Nodes;
using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary>A training method is a plug-in: a method registered from user code trains with no change to the trainer.</summary>
public sealed class TrainingMethodTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>MDLM with its loss scaled by ½ that logs the fraction of real tokens: its own loss, metric and bound name.</summary>
    sealed class HalvedMdlm(TrainingMethodContext context) : ITrainingMethod
    {
        readonly MdlmMethod _inner = new(context);

        public string Name => "test-halved-mdlm";
        public LanguageModel Model => _inner.Model;
        public AttentionPolicy Attention => _inner.Attention;
        public string BoundMetric => "val_halved_bits";

        public MethodLoss Loss(PackedBatch batch, Generator generator)
        {
            var inner = _inner.Loss(batch, generator);
            var real = batch.KeyPadding.to(ScalarType.Float64).mean();
            return new MethodLoss(inner.Loss * 0.5, new Dictionary<string, Tensor> { ["real_fraction"] = real });
        }

        public BoundTerms Bound(PackedBatch batch, Generator generator) => _inner.Bound(batch, generator);
    }

    [Fact]
    public void ARegisteredMethodTrainsLogsItsMetricsAndNamesItsBound()
    {
        TrainingMethods.Register("test-halved-mdlm", context => new HalvedMdlm(context));
        Assert.Contains("test-halved-mdlm", TrainingMethods.Names);
        var output = Path.Combine(_f.Root, "halved");
        using (var trainer = Trainer.Create(_f.Recipe(output, "test-halved-mdlm", steps: 2, "--train.log_every=1")))
        {
            Assert.IsType<HalvedMdlm>(trainer.Method);
            var summary = trainer.Run();
            Assert.Equal("val_halved_bits", summary.Last!.Metric);
        }
        var records = File.ReadAllLines(Path.Combine(output, MetricsLog.FileName)).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var steps = records.Where(r => r.ContainsKey("loss")).ToList();
        Assert.Equal(2, steps.Count);
        Assert.All(steps, r => Assert.InRange(r["real_fraction"]!.GetValue<double>(), 0.5, 1.0));
        Assert.Contains(records, r => r.ContainsKey("val_halved_bits"));
    }

    [Fact]
    public void AnUnknownMethodIsAnErrorListingTheKnownOnes()
    {
        var e = Assert.ThrowsAny<Exception>(() => Recipe.Parse("model: {preset: tiny}\ntrain: {objective: bd4lm}", "r.yaml"));
        Assert.Contains("train.objective", e.Message);
        Assert.Contains("mdlm", e.Message);
    }
}
