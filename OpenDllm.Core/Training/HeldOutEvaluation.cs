using OpenDllm.Data;
using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// The held-out bound of a training method's model on token shards, in bits per token, so a diffusion model and the AR
/// baseline are compared on the same data (<see cref="ITrainingMethod.Bound"/>): e.g. the MDLM NELBO = Σ w(t)·CE over masked targets / tokens / ln 2 with t ~ U(ε, 1), ε = 1e-3, whatever
/// sampler training uses (SPEC §1.2; comparable with published MDLM numbers), or the AR NLL. The first
/// <c>batches</c> validation batches are used in order, with t and masks from a fixed seed, so two
/// evaluations of the same model give the same number and before/after comparisons see the same noise. The sums stay on
/// the device and are read once at the end.
/// </summary>
public static class HeldOutEvaluation
{
    /// <summary>The fixed seed of a recipe's validation noise (t and masks), shared by training and `eval nelbo`.</summary>
    public static long SeedFor(Recipe recipe) => recipe.Train.Seed + 0x5EED;

    public static EvalResult Evaluate(ITrainingMethod method, PackedLoader validation, int batches, long seed, long step = 0)
    {
        var model = method.Model;
        bool training = model.training;
        model.eval();
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        using var nats = zeros(1, dtype: ScalarType.Float64, device: model.HeadWeight.device);     // [1]
        using var tokens = zeros(1, dtype: ScalarType.Int64, device: model.HeadWeight.device);      // [1]
        foreach (var batch in validation.InOrder().Take(batches))
        {
            using var scope = NewDisposeScope();
            using var _ = batch;
            var r = method.Bound(batch, generator);
            nats.add_(r.Nats);
            tokens.add_(r.Tokens);
        }
        if (training) model.train();
        double total = nats.item<double>();
        long count = tokens.item<long>();
        return new EvalResult(step, method.BoundMetric, total / Math.Max(1, count) / Math.Log(2), count);
    }
}
