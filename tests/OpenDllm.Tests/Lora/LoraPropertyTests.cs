using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Lora;
using OpenDllm.Modules;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>Invariants of one adapted block over random sizes, ranks, α and seeds.</summary>
public class LoraPropertyTests
{
    static readonly Gen<(int Hidden, int Inter, int Rank, int Alpha, int Seed)> Settings =
        from hidden in Gen.Choose(2, 24)
        from inter in Gen.Choose(2, 40)
        from rank in Gen.Choose(1, 12)
        from alpha in Gen.Choose(1, 64)
        from seed in Gen.Choose(0, 1000)
        select (hidden, inter, rank, alpha, seed);

    /// <summary>
    /// On a SwiGLU block: the adapter forward equals the merged forward (W + (α/r)·B·A) within float32 rounding, and the
    /// count is Σ r·(in + out) = r·(3·hidden + 3·inter).
    /// </summary>
    [Property(MaxTest = 40)]
    public Property MergeIsExactAndTheCountFollowsTheFormula() =>
        Prop.ForAll(Settings.ToArbitrary(), s =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var generator = SeededDraws.ForSeed(s.Seed);
            var mlp = new SwiGluMlp(s.Hidden, s.Inter);
            foreach (var p in mlp.parameters()) SeededDraws.FillNormal(p, 0, 0.3, generator);
            mlp.eval();
            var adapters = LoraAdapters.Attach(mlp, new LoraOptions(s.Rank, s.Alpha, 0.2, ["gate_proj", "up_proj", "down_proj"], s.Seed));
            foreach (var (_, a) in adapters.Entries) SeededDraws.FillNormal(a.B, 0, 0.3, generator);
            var x = SeededDraws.Uniform([3, 5, s.Hidden], generator, dtype: ScalarType.Float32) - 0.5;
            var adapted = mlp.forward(x);
            long count = adapters.TrainableParameterCount;
            adapters.MergeIntoBase();
            double diff = Fixture.MaxAbsDiff(adapted, mlp.forward(x)), scale = Math.Max(1, adapted.abs().max().item<float>());
            return (diff <= 1e-5 * scale).Label($"max |Δ| = {diff:E2} (scale {scale:F2})")
                .And((count == (long)s.Rank * 3 * (s.Hidden + s.Inter)).Label($"count {count}"));
        });
}
