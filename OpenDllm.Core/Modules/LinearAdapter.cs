using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// An additive correction to one linear projection: <c>y = x·Wᵀ + b + Δ(x)</c>. LoRA (<see cref="Lora.LoraAdapter"/>) is
/// one. An adapter is not a submodule of the layer it corrects, so the base model's parameters and state dict never change
/// when adapters come and go.
/// </summary>
public interface ILinearAdapter
{
    /// <summary>
    /// Adds Δ(x) to the base projection's output <paramref name="y"/> [.., out] in place and returns it (x [.., in]; in
    /// <paramref name="computeDtype"/> when set). <paramref name="training"/> is the host layer's mode (dropout and the like
    /// act only in training). In place, because the forward's dispose scope keeps every temporary alive until the forward
    /// ends: a separate Δ(x) and sum would hold two more [.., out] tensors per projection.
    /// </summary>
    Tensor AddTo(Tensor y, Tensor x, ScalarType? computeDtype, bool training);
}

/// <summary>A module whose named linear projections (the last segment of their parameter names) can each carry one adapter.</summary>
public interface IAdapterHost
{
    /// <summary>The projections in a fixed order, by name (<c>q_proj</c>, …).</summary>
    IReadOnlyList<(string Name, Linear Layer)> Projections { get; }

    /// <summary>The adapter on projection <paramref name="name"/>, or null.</summary>
    ILinearAdapter? GetAdapter(string name);

    /// <summary>Puts <paramref name="adapter"/> on projection <paramref name="name"/> (null removes it).</summary>
    void SetAdapter(string name, ILinearAdapter? adapter);
}

/// <summary>
/// The adapter slots of one <see cref="IAdapterHost"/>: its projections, each with an optional adapter, and the one
/// projection rule <c>y = x·Wᵀ + b (+ Δ(x))</c> in the host's compute dtype.
/// </summary>
public sealed class AdapterSlots : IAdapterHost
{
    readonly (string Name, Linear Layer)[] _projections;
    readonly ILinearAdapter?[] _adapters;

    public AdapterSlots(params (string Name, Linear Layer)[] projections)
    {
        _projections = projections;
        _adapters = new ILinearAdapter?[projections.Length];
    }

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, Linear Layer)> Projections => _projections;

    /// <inheritdoc/>
    public ILinearAdapter? GetAdapter(string name) => _adapters[IndexOf(name)];

    /// <inheritdoc/>
    public void SetAdapter(string name, ILinearAdapter? adapter) => _adapters[IndexOf(name)] = adapter;

    /// <summary><c>x·Wᵀ + b</c> of <paramref name="layer"/> (<see cref="ComputePrecision.Linear"/>) plus its adapter's Δ(x), if any.</summary>
    public Tensor Project(Linear layer, Tensor x, ScalarType? dtype)
    {
        var y = ComputePrecision.Linear(layer, x, dtype);
        for (int i = 0; i < _projections.Length; i++)
            if (ReferenceEquals(_projections[i].Layer, layer))
                return _adapters[i] is { } adapter ? adapter.AddTo(y, x, dtype, layer.training) : y;
        throw new ArgumentException("layer is not one of this module's projections", nameof(layer));
    }

    int IndexOf(string name)
    {
        for (int i = 0; i < _projections.Length; i++)
            if (_projections[i].Name == name) return i;
        throw new ArgumentException($"no projection named '{name}' (have {string.Join(", ", _projections.Select(p => p.Name))})", nameof(name));
    }
}
