using OpenDllm.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>
/// The LoRA adapters attached to one model (PEFT's <c>LoraModel</c>, without wrapping the model): one
/// <see cref="LoraAdapter"/> per selected projection, each registered in the projection's adapter slot. The model's own
/// parameters and state dict are untouched (its checkpoints stay plain Hugging Face ones); this module holds the adapter
/// parameters, so <c>parameters()</c> here is exactly what a LoRA run trains. Dispose removes the adapters from the model.
/// </summary>
public sealed class LoraAdapters : nn.Module
{
    [ComponentName(Name = "adapters")] readonly ModuleList<LoraAdapter> _adapters;
    readonly List<LoraTarget> _targets;
    readonly LoraDropout _dropout;
    bool _attached;

    LoraAdapters(LoraOptions options, IReadOnlyList<LoraTarget> targets) : base(nameof(LoraAdapters))
    {
        Options = options;
        _targets = [.. targets];
        _dropout = new LoraDropout(options.Dropout, options.Seed);
        using var init = SeededDraws.ForSeed(options.Seed);
        _adapters = nn.ModuleList(targets.Select(t => new LoraAdapter(t.InFeatures, t.OutFeatures, options.Rank, options.Scaling,
            _dropout, init, t.Layer.weight!.device, t.Layer.weight!.dtype)).ToArray());
        RegisterComponents();
        for (int i = 0; i < _targets.Count; i++) _targets[i].Host.SetAdapter(_targets[i].Name, _adapters[i]);
        _attached = true;
    }

    /// <summary>
    /// Puts a fresh adapter (B = 0, A from <see cref="LoraOptions.Seed"/>) on every projection of <paramref name="model"/>
    /// that <see cref="LoraOptions.Targets"/> selects (<see cref="LoraTargets"/>). With <paramref name="freezeBase"/> every
    /// parameter of the model stops requiring gradients, so only the adapters train. Throws if the model already carries
    /// adapters, or a pattern selects nothing.
    /// </summary>
    public static LoraAdapters Attach(nn.Module model, LoraOptions options, bool freezeBase = true)
    {
        options.Validate();
        var targets = LoraTargets.Select(model, options.Targets);
        if (targets.FirstOrDefault(t => t.Host.GetAdapter(t.Name) is not null) is { } taken)
            throw new InvalidOperationException($"{taken.Path} already carries an adapter; merge or dispose the first set before attaching another");
        if (freezeBase)
            foreach (var p in model.parameters()) p.requires_grad = false;
        return new LoraAdapters(options, targets);
    }

    /// <summary>The settings these adapters were made with.</summary>
    public LoraOptions Options { get; }

    /// <summary>Each adapter with its projection, in model order.</summary>
    public IReadOnlyList<(LoraTarget Target, LoraAdapter Adapter)> Entries =>
        _targets.Select((t, i) => (t, _adapters[i])).ToList();

    /// <summary>Trainable parameters: Σ over adapted projections of r·(in + out).</summary>
    public long TrainableParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The dropout masks' generator; see <see cref="LoraDropout.Reseed"/>.</summary>
    public LoraDropout Dropout => _dropout;

    /// <summary>
    /// Folds every adapter into its projection, W ← W + (α/r)·B·A (computed in float64, stored in W's dtype), and removes
    /// the adapters: the model then computes what it computed with them (up to W's rounding) with no extra cost, and can be
    /// saved as a plain Hugging Face checkpoint. The set is spent afterwards.
    /// </summary>
    public void MergeIntoBase()
    {
        RequireAttached();
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
            foreach (var (target, adapter) in Entries)
            {
                var w = target.Layer.weight!;
                w.copy_((w.to(ScalarType.Float64) + adapter.DenseUpdate().to(w.device)).to(w.dtype));
            }
        Remove();
    }

    /// <summary>
    /// Folds the adapters into the base weights until the returned scope is disposed (to save the merged model with
    /// <c>SavePretrained</c>), then puts the base weights back bit for bit from copies kept aside and re-attaches the
    /// adapters. Subtracting the update again would not restore W exactly, which would break a frozen base and exact resume.
    /// </summary>
    public IDisposable MergedScope()
    {
        RequireAttached();
        var saved = new List<(Tensor Weight, Tensor Copy)>();
        var restore = new Restore(this, saved);
        try
        {
            using var noGrad = no_grad();
            foreach (var (target, adapter) in Entries)
            {
                var w = target.Layer.weight!;
                var copy = w.detach().clone().DetachFromDisposeScope();
                saved.Add((w, copy));
                using var scope = NewDisposeScope();
                w.copy_((w.to(ScalarType.Float64) + adapter.DenseUpdate().to(w.device)).to(w.dtype));
            }
        }
        catch
        {
            restore.Dispose();                                             // never leave a half-merged base behind
            throw;
        }
        Remove();
        return restore;
    }

    sealed class Restore(LoraAdapters owner, List<(Tensor Weight, Tensor Copy)> saved) : IDisposable
    {
        public void Dispose()
        {
            if (saved.Count == 0) return;
            using (var noGrad = no_grad())
                foreach (var (weight, copy) in saved)
                {
                    weight.copy_(copy);
                    copy.Dispose();
                }
            saved.Clear();
            owner.Reattach();
        }
    }

    void Reattach()
    {
        for (int i = 0; i < _targets.Count; i++) _targets[i].Host.SetAdapter(_targets[i].Name, _adapters[i]);
        _attached = true;
    }

    /// <summary>Takes the adapters off the model (its projections compute x·Wᵀ + b again). Does not unfreeze the base.</summary>
    public void Remove()
    {
        if (!_attached) return;
        foreach (var t in _targets)
            if (t.Host.GetAdapter(t.Name) is LoraAdapter mine && _adapters.Contains(mine)) t.Host.SetAdapter(t.Name, null);
        _attached = false;
    }

    void RequireAttached()
    {
        if (!_attached) throw new InvalidOperationException("these adapters were already merged or removed");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Remove();
            _dropout.Dispose();
        }
        base.Dispose(disposing);
    }
}
