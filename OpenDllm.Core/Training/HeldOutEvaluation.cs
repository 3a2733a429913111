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

    /// <summary>
    /// The bound (and the method's <see cref="BoundTerms.Extras"/>, as Σ Sum / Σ Count each) over the first
    /// <paramref name="batches"/> validation batches, with the method's modules in eval mode (<see cref="EvalMode"/>) and no
    /// grad. The sums stay on the device: one read for the bound, one for all extras.
    /// </summary>
    public static EvalResult Evaluate(ITrainingMethod method, PackedLoader validation, int batches, long seed, long step = 0)
    {
        var model = method.Model;
        var extras = new Dictionary<string, (Tensor Sum, Tensor Count)>(StringComparer.Ordinal);   // insertion order = report order
        double total;
        long count;
        try
        {
            using (EvalMode.Enter(method))
            {
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
                    foreach (var (name, extra) in r.Extras ?? new Dictionary<string, ValidationSum>())
                    {
                        if (!extras.TryGetValue(name, out var sums))
                            extras[name] = sums = (zeros(1, dtype: ScalarType.Float64, device: extra.Sum.device).DetachFromDisposeScope(),
                                                   zeros(1, dtype: ScalarType.Float64, device: extra.Sum.device).DetachFromDisposeScope());
                        sums.Sum.add_(extra.Sum.to(ScalarType.Float64));
                        sums.Count.add_(extra.Count.to(ScalarType.Float64));
                    }
                }
                total = nats.item<double>();
                count = tokens.item<long>();
            }
            return new EvalResult(step, method.BoundMetric, total / Math.Max(1, count) / Math.Log(2), count) { Extras = Read(extras) };
        }
        finally
        {
            foreach (var (sum, n) in extras.Values) { sum.Dispose(); n.Dispose(); }
        }
    }

    /// <summary>Σ Sum / Σ Count per extra metric in one device → host read; a metric whose Σ Count is 0 is left out; null when none.</summary>
    static IReadOnlyDictionary<string, double>? Read(Dictionary<string, (Tensor Sum, Tensor Count)> extras)
    {
        if (extras.Count == 0) return null;
        using var scope = NewDisposeScope();
        var values = cat(extras.Values.SelectMany(e => new[] { e.Sum, e.Count }).ToArray()).cpu().data<double>().ToArray();
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        int i = 0;
        foreach (var name in extras.Keys)
        {
            double sum = values[i++], n = values[i++];
            if (n > 0) result[name] = sum / n;
        }
        return result;
    }
}

/// <summary>
/// Puts a method's modules in eval mode for validation and restores their modes when disposed: the language model, and
/// for an <see cref="IModuleTrainingMethod"/> its <see cref="IModuleTrainingMethod.Trained"/> modules too.
/// </summary>
public sealed class EvalMode : IDisposable
{
    readonly List<(nn.Module Module, bool Training)> _restore = [];

    EvalMode(ITrainingMethod method)
    {
        if (method is IModuleTrainingMethod m) _restore.Add((m.Trained, m.Trained.training));
        _restore.Add((method.Model, method.Model.training));
        foreach (var (module, _) in _restore) module.eval();
    }

    /// <summary>Switches <paramref name="method"/>'s modules to eval mode until the result is disposed.</summary>
    public static EvalMode Enter(ITrainingMethod method) => new(method);

    public void Dispose()
    {
        foreach (var (module, training) in _restore)
            if (training) module.train();
    }
}
