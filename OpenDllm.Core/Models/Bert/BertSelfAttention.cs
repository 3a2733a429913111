using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// HF <c>attention.self</c>: multi-head scaled dot-product attention with biased projections <c>query</c>, <c>key</c>,
/// <c>value</c> and no positional rotation: <c>A = softmax(Q·Kᵀ/√d + M)·V</c> per head, M = −∞ where the mask hides a
/// key (HF's extended attention mask; its −10000 / dtype-min gives the same probabilities, exp underflows to 0 in float32).
/// Dropout on the probabilities while training. Returns the heads concatenated, [B, L, D].
/// </summary>
public sealed class BertSelfAttention : nn.Module<Tensor, Tensor?, Tensor>, IComputeDtype
{
    [ComponentName(Name = "query")] internal readonly Linear Query;
    [ComponentName(Name = "key")] internal readonly Linear Key;
    [ComponentName(Name = "value")] internal readonly Linear Value;
    readonly int _heads, _headDim;
    readonly double _dropout;

    public BertSelfAttention(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertSelfAttention))
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _dropout = config.AttentionProbsDropoutProb;
        Query = nn.Linear(config.HiddenSize, config.HiddenSize, device: device, dtype: dtype);
        Key = nn.Linear(config.HiddenSize, config.HiddenSize, device: device, dtype: dtype);
        Value = nn.Linear(config.HiddenSize, config.HiddenSize, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <summary>x [B, L, D], mask bool [B|1, 1, L, L] (true = may attend) or null (all visible) → [B, L, D].</summary>
    public override Tensor forward(Tensor x, Tensor? mask)
    {
        long b = x.shape[0], l = x.shape[1];
        Tensor Heads(Linear p) => ComputePrecision.Linear(p, x, ComputeDtype).view(b, l, _heads, _headDim).transpose(1, 2);  // [B, H, L, d]
        var attended = nn.functional.scaled_dot_product_attention(Heads(Query), Heads(Key), Heads(Value), mask,
                                                                  p: training ? _dropout : 0.0);
        return attended.transpose(1, 2).reshape(b, l, _heads * _headDim);
    }
}
