using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Training;

/// <summary>
/// OpenDllm's Scalar-safe AdamW (<see cref="OpenDllm.Training.AdamW"/>) against TorchSharp's <c>torch.optim.AdamW</c>:
/// bit-identical steps, and state files that load into each other.
/// </summary>
public class AdamWTests
{
    /// <summary>A two-layer tanh regression with seeded weights: the same numbers for every call with the same seed.</summary>
    sealed class TinyNet
    {
        public readonly Parameter W1, W2;
        public TinyNet(ulong seed)
        {
            var g = new Generator(seed);
            W1 = new Parameter(randn([6, 5], generator: g));
            W2 = new Parameter(randn([5, 3], generator: g));
        }
        public Parameter[] Parameters => [W1, W2];

        /// <summary>Mean squared error on batch <paramref name="step"/> (inputs and targets drawn from the step number).</summary>
        public Tensor Loss(long step)
        {
            var g = new Generator((ulong)(100 + step));
            var x = randn([4, 6], generator: g);
            var y = randn([4, 3], generator: g);
            return (x.matmul(W1).tanh().matmul(W2) - y).pow(2).mean();
        }
    }

    static void Step(TinyNet net, optim.Optimizer optimizer, long step)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        net.Loss(step).backward();
        optimizer.step();
    }

    static void AssertSameWeights(TinyNet expected, TinyNet actual, string what)
    {
        for (int i = 0; i < expected.Parameters.Length; i++)
            Assert.True(expected.Parameters[i].eq(actual.Parameters[i]).all().item<bool>(), $"{what}: parameter {i} differs");
    }

    [Theory]
    [InlineData(false, false, 0.1)]
    [InlineData(false, false, 0.0)]
    [InlineData(true, false, 0.01)]
    [InlineData(false, true, 0.01)]
    public void EveryStepEqualsTorchSharpsAdamWExactly(bool amsgrad, bool maximize, double weightDecay)
    {
        var reference = new TinyNet(7);
        var ours = new TinyNet(7);
        using var torchAdamW = optim.AdamW(reference.Parameters, 1e-2, 0.9, 0.95, 1e-8, weightDecay, amsgrad, maximize);
        using var adamW = new OpenDllm.Training.AdamW(ours.Parameters, 1e-2, 0.9, 0.95, 1e-8, weightDecay, amsgrad, maximize);
        for (long step = 0; step < 12; step++)
        {
            if (step == 6)                                                      // a schedule changing the LR mid-run
            {
                foreach (var group in torchAdamW.ParamGroups) group.LearningRate = 3e-3;
                foreach (var group in adamW.ParamGroups) group.LearningRate = 3e-3;
            }
            Step(reference, torchAdamW, step);
            Step(ours, adamW, step);
            AssertSameWeights(reference, ours, $"after step {step + 1}");
        }
        Assert.False(reference.W1.eq(new TinyNet(7).W1).all().item<bool>(), "the weights never moved: the test compares nothing");
    }

    /// <summary>
    /// The optimizer.bin a checkpoint holds: TorchSharp's AdamW writes it, ours loads it and goes on exactly as TorchSharp's
    /// would (checkpoints from before the switch resume), and ours writes the very same bytes.
    /// </summary>
    [Fact]
    public void StateFilesAreTorchSharpsAndResumeExactly()
    {
        var dir = Directory.CreateTempSubdirectory("adamw-state-");
        try
        {
            var reference = new TinyNet(11);
            var ours = new TinyNet(11);
            using var torchAdamW = optim.AdamW(reference.Parameters, 1e-2, 0.9, 0.999, 1e-8, 0.05);
            using var adamW = new OpenDllm.Training.AdamW(ours.Parameters, 1e-2, 0.9, 0.999, 1e-8, 0.05);
            for (long step = 0; step < 3; step++) { Step(reference, torchAdamW, step); Step(ours, adamW, step); }
            string theirs = Path.Combine(dir.FullName, "torchsharp.bin"), mine = Path.Combine(dir.FullName, "opendllm.bin");
            torchAdamW.save_state_dict(theirs);
            adamW.save_state_dict(mine);
            Assert.Equal(File.ReadAllBytes(theirs), File.ReadAllBytes(mine));

            // resume: fresh optimizers over copies of the weights, each loading the other's file
            var resumedOurs = new TinyNet(0);
            var resumedTheirs = new TinyNet(0);
            using (no_grad())
                for (int i = 0; i < reference.Parameters.Length; i++)
                {
                    resumedOurs.Parameters[i].copy_(reference.Parameters[i]);
                    resumedTheirs.Parameters[i].copy_(reference.Parameters[i]);
                }
            using var oursFromTheirs = new OpenDllm.Training.AdamW(resumedOurs.Parameters, 1e-2, 0.9, 0.999, 1e-8, 0.05);
            oursFromTheirs.load_state_dict(theirs);
            using var theirsFromOurs = optim.AdamW(resumedTheirs.Parameters, 1e-2, 0.9, 0.999, 1e-8, 0.05);
            theirsFromOurs.load_state_dict(mine);
            for (long step = 3; step < 6; step++)
            {
                Step(reference, torchAdamW, step);
                Step(resumedOurs, oursFromTheirs, step);
                Step(resumedTheirs, theirsFromOurs, step);
                AssertSameWeights(reference, resumedOurs, $"ours resumed from TorchSharp's file, step {step + 1}");
                AssertSameWeights(reference, resumedTheirs, $"TorchSharp's resumed from our file, step {step + 1}");
            }
        }
        finally { dir.Delete(recursive: true); }
    }
}
