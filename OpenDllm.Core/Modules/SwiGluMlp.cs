using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>The Qwen2 feed-forward block: <c>down(silu(gate(x)) ⊙ up(x))</c>, no biases (Shazeer 2020, <see href="https://arxiv.org/abs/2002.05202"/>).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>, IComputeDtype, IAdapterHost
{
    [ComponentName(Name = "gate_proj")] readonly Linear _gate;
    [ComponentName(Name = "up_proj")] readonly Linear _up;
    [ComponentName(Name = "down_proj")] readonly Linear _down;
    readonly AdapterSlots _slots;

    public SwiGluMlp(long hidden, long intermediate, Device? device = null, ScalarType? dtype = null) : base(nameof(SwiGluMlp))
    {
        _gate = nn.Linear(hidden, intermediate, hasBias: false, device: device, dtype: dtype);
        _up = nn.Linear(hidden, intermediate, hasBias: false, device: device, dtype: dtype);
        _down = nn.Linear(intermediate, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
        _slots = new AdapterSlots(("gate_proj", _gate), ("up_proj", _up), ("down_proj", _down));
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    public override Tensor forward(Tensor x) => Project(_down, nn.functional.silu(Project(_gate, x)) * Project(_up, x));

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, Linear Layer)> Projections => _slots.Projections;

    /// <inheritdoc/>
    public ILinearAdapter? GetAdapter(string name) => _slots.GetAdapter(name);

    /// <inheritdoc/>
    public void SetAdapter(string name, ILinearAdapter? adapter) => _slots.SetAdapter(name, adapter);

    /// <summary>x·Wᵀ of one projection (plus its adapter's Δ(x), if any), in <see cref="ComputeDtype"/> when set.</summary>
    Tensor Project(Linear layer, Tensor x) => _slots.Project(layer, x, ComputeDtype);
}
