using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary>A weighted method metric (<see cref="MethodLoss.MetricWeights"/>) averages only over the micro-batches that weigh it.</summary>
public sealed class WeightedMetricTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    /// <summary>MDLM that reports "every_other" = 4 with weight 1 on even micro-batches and 0 with weight 0 on odd ones.</summary>
    sealed class EveryOther(TrainingMethodContext context) : ITrainingMethod
    {
        readonly MdlmMethod _inner = new(context);
        int _calls;

        public string Name => "test-every-other";
        public LanguageModel Model => _inner.Model;
        public AttentionPolicy Attention => _inner.Attention;
        public string BoundMetric => _inner.BoundMetric;

        public MethodLoss Loss(PackedBatch batch, Generator generator)
        {
            bool counted = _calls++ % 2 == 0;
            return new MethodLoss(_inner.Loss(batch, generator).Loss, new Dictionary<string, Tensor>
            {
                ["every_other"] = tensor(counted ? 4.0 : 0.0), ["plain"] = tensor(counted ? 4.0 : 0.0),
            }) { MetricWeights = new Dictionary<string, Tensor> { ["every_other"] = tensor(counted ? 1.0 : 0.0) } };
        }

        public BoundTerms Bound(PackedBatch batch, Generator generator) => _inner.Bound(batch, generator);
    }

    [Fact]
    public void SkippedMicroBatchesDoNotCountAsZero()
    {
        TrainingMethods.Register("test-every-other", context => new EveryOther(context));
        var output = Path.Combine(_f.Root, "weighted");
        using (var trainer = Trainer.Create(_f.Recipe(output, "test-every-other", steps: 2)))   // 2 micro-batches a step
            trainer.Run();
        var steps = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Where(r => r.ContainsKey("loss")).ToList();
        Assert.Equal(2, steps.Count);
        Assert.All(steps, r => Assert.Equal(4.0, (double)r["every_other"]!));
        Assert.All(steps, r => Assert.Equal(2.0, (double)r["plain"]!));
    }
}
