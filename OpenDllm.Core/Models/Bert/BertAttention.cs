using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// HF <c>attention.output</c>: <c>h = LayerNorm(x + Dropout(A·W_oᵀ + b_o))</c> (post-norm residual). Names:
/// <c>dense.{weight,bias}</c>, <c>LayerNorm.{weight,bias}</c>.
/// </summary>
public sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>, IComputeDtype
{
    [ComponentName(Name = "dense")] internal readonly Linear Dense;
    [ComponentName(Name = "LayerNorm")] internal readonly LayerNorm Norm;
    readonly double _dropout;

    public BertSelfOutput(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertSelfOutput))
    {
        Dense = nn.Linear(config.HiddenSize, config.HiddenSize, device: device, dtype: dtype);
        Norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        _dropout = config.HiddenDropoutProb;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <summary>attended [B, L, D], residual x [B, L, D] → [B, L, D].</summary>
    public override Tensor forward(Tensor attended, Tensor x)
    {
        var y = BertPrecision.Dropout(ComputePrecision.Linear(Dense, attended, ComputeDtype), _dropout, training);
        return BertPrecision.Norm(Norm, y + x, ComputeDtype);
    }
}

/// <summary>HF <c>attention</c>: <c>self</c> (<see cref="BertSelfAttention"/>) then <c>output</c> (<see cref="BertSelfOutput"/>).</summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    [ComponentName(Name = "self")] internal readonly BertSelfAttention Self;
    [ComponentName(Name = "output")] internal readonly BertSelfOutput Output;

    public BertAttention(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertAttention))
    {
        Self = new BertSelfAttention(config, device, dtype);
        Output = new BertSelfOutput(config, device, dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? mask) => Output.forward(Self.forward(x, mask), x);
}
