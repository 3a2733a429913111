using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// One HF <c>encoder.layer.{i}</c> (post-LayerNorm transformer block):
/// <code>
/// h = LayerNorm₁(x + Dropout(Attention(x)·W_oᵀ + b_o))                       attention, attention.output
/// y = LayerNorm₂(h + Dropout(GELU(h·W_iᵀ + b_i)·W_fᵀ + b_f))                  intermediate.dense, output.dense, output.LayerNorm
/// </code>
/// with the exact GELU(z) = z·Φ(z) = ½z(1 + erf(z/√2)).
/// </summary>
public sealed class BertLayer : nn.Module<Tensor, Tensor?, Tensor>
{
    [ComponentName(Name = "attention")] internal readonly BertAttention Attention;
    [ComponentName(Name = "intermediate")] internal readonly BertIntermediate Intermediate;
    [ComponentName(Name = "output")] internal readonly BertResidualOutput Output;

    public BertLayer(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertLayer))
    {
        Attention = new BertAttention(config, device, dtype);
        Intermediate = new BertIntermediate(config, device, dtype);
        Output = new BertResidualOutput(config.IntermediateSize, config, device, dtype);
        RegisterComponents();
    }

    /// <summary>x [B, L, D], mask [B|1, 1, L, L] or null → [B, L, D].</summary>
    public override Tensor forward(Tensor x, Tensor? mask)
    {
        var h = Attention.forward(x, mask);
        return Output.forward(Intermediate.forward(h), h);
    }
}

/// <summary>HF <c>intermediate</c>: <c>GELU(h·W_iᵀ + b_i)</c>, [B, L, D] → [B, L, I]. Name: <c>dense.{weight,bias}</c>.</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>, IComputeDtype
{
    [ComponentName(Name = "dense")] internal readonly Linear Dense;

    public BertIntermediate(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertIntermediate))
    {
        Dense = nn.Linear(config.HiddenSize, config.IntermediateSize, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    public override Tensor forward(Tensor h) => nn.functional.gelu(ComputePrecision.Linear(Dense, h, ComputeDtype));
}
