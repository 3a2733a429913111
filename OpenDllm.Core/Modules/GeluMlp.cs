using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// The two-layer feed-forward of the Perceiver blocks and the DiT (SPEC §6.2): <c>y = W₂·Dropout(GELU(W₁x + b₁)) + b₂</c>,
/// hidden width m·w. GELU is the exact (erf) form, PyTorch's <c>nn.GELU()</c> default. Parameters <c>fc1.*</c>, <c>fc2.*</c>.
/// The normalisation before it belongs to the block that uses it (a LayerNorm in a Perceiver block, adaLN in a DiT block).
/// </summary>
public sealed class GeluMlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] readonly Linear _fc1;
    [ComponentName(Name = "fc2")] readonly Linear _fc2;
    readonly double _dropout;

    /// <param name="width">w, the input and output width.</param>
    /// <param name="hidden">the inner width (m·w).</param>
    /// <param name="dropout">dropout probability after the GELU, active only in training mode.</param>
    public GeluMlp(long width, long hidden, double dropout, Device? device = null) : base(nameof(GeluMlp))
    {
        _fc1 = nn.Linear(width, hidden, hasBias: true, device: device);
        _fc2 = nn.Linear(hidden, width, hasBias: true, device: device);
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>Both layers N(0, 0.02), biases zero.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Linear(_fc1, generator);
        SeededInit.Linear(_fc2, generator);
    }

    public override Tensor forward(Tensor x)
    {
        var h = nn.functional.gelu(_fc1.forward(x));
        if (training && _dropout > 0) h = nn.functional.dropout(h, _dropout, training: true);
        return _fc2.forward(h);
    }
}
