using OpenDllm.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>A pre-norm Qwen2 block: <c>h = x + attn(norm₁(x)); y = h + mlp(norm₂(h))</c>.</summary>
public sealed class DecoderLayer : nn.Module<AttentionInput, AttentionOutput>
{
    [ComponentName(Name = "input_layernorm")] readonly RmsNorm _inputNorm;
    [ComponentName(Name = "self_attn")] readonly SelfAttention _attention;
    [ComponentName(Name = "post_attention_layernorm")] readonly RmsNorm _postNorm;
    [ComponentName(Name = "mlp")] readonly SwiGluMlp _mlp;

    public DecoderLayer(Config.ModelConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(DecoderLayer))
    {
        _inputNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        _attention = new SelfAttention(config.HiddenSize, config.NumAttentionHeads, config.KeyValueHeads, config.HeadDim, device, dtype);
        _postNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        _mlp = new SwiGluMlp(config.HiddenSize, config.IntermediateSize, device, dtype);
        RegisterComponents();
    }

    /// <summary>Input hidden in <see cref="AttentionInput.Hidden"/>; returns the residual stream after the block.</summary>
    public override AttentionOutput forward(AttentionInput input)
    {
        var attended = _attention.forward(input with { Hidden = _inputNorm.forward(input.Hidden) });
        var h = input.Hidden.AddScaled(attended.Hidden);                  // ScalarOps: + makes an alpha Scalar; kept through the call
        return new AttentionOutput(h.AddScaled(_mlp.forward(_postNorm.forward(h))), attended.Kv);
    }
}
