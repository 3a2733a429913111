using OpenDllm.Modules;
using OpenDllm.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// BERT's post-norm residual projection, HF's <c>attention.output</c> (BertSelfOutput, input = the attended values, width D)
/// and a layer's <c>output</c> (BertOutput, input = the FFN activations, width I): <c>LayerNorm(r + Dropout(x·Wᵀ + b))</c>.
/// Names: <c>dense.{weight,bias}</c>, <c>LayerNorm.{weight,bias}</c>.
/// </summary>
public sealed class BertResidualOutput : nn.Module<Tensor, Tensor, Tensor>, IComputeDtype
{
    [ComponentName(Name = "dense")] internal readonly Linear Dense;
    [ComponentName(Name = "LayerNorm")] internal readonly LayerNorm Norm;
    readonly double _dropout;

    /// <param name="inFeatures">width of the projected input: hidden_size (attention) or intermediate_size (FFN).</param>
    public BertResidualOutput(long inFeatures, BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertResidualOutput))
    {
        Dense = nn.Linear(inFeatures, config.HiddenSize, device: device, dtype: dtype);
        Norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        _dropout = config.HiddenDropoutProb;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <summary>x [B, L, in] (attended values or FFN activations), residual r [B, L, D] → [B, L, D].</summary>
    public override Tensor forward(Tensor x, Tensor residual)
    {
        var y = BertPrecision.Dropout(ComputePrecision.Linear(Dense, x, ComputeDtype), _dropout, training);
        return BertPrecision.Norm(Norm, y.AddScaled(residual), ComputeDtype);   // ScalarOps: the sum's alpha Scalar kept
    }
}
