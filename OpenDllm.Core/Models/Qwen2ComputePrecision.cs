using OpenDllm.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>Mixed precision of the Qwen2 model: float32 parameters, arithmetic in a lower compute dtype.</summary>
public sealed partial class Qwen2Model
{
    // ComputeDtype (LanguageModel) is the dtype the forward (and so the backward) computes in while the parameters keep
    // their own: with float32 parameters and bf16 this is bf16 mixed precision as in FSDP MixedPrecision(param_dtype=bf16):
    // every matmul casts its weight at use (ComputePrecision), the embedding rows are gathered from the float32 table and
    // cast, activations (the residual stream included) and attention run in bf16, RMSNorm computes in float32, and the
    // logits come back in float32 (HeadLogits). Gradients flow back through the casts into float32 .grad. PyTorch AMP keeps
    // the embedding output in float32, so its residual adds promote to float32; here the residual stream is bf16.

    /// <summary>The dtype of hidden states in the forward: <see cref="LanguageModel.ComputeDtype"/>, else the parameters' dtype.</summary>
    public ScalarType ActivationDtype => ComputeDtype ?? _model.EmbedTokens.weight!.dtype;

    /// <summary>
    /// logits = h·Wᵀ of final hidden states <paramref name="hidden"/> [..., D] → [..., V] with the head weight W
    /// (<see cref="HeadWeight"/>). With a <see cref="LanguageModel.ComputeDtype"/> the product runs in it and the logits are returned
    /// in float32, ready for a float32 log-softmax; otherwise in the parameters' dtype as before.
    /// </summary>
    public Tensor HeadLogits(Tensor hidden)
    {
        if (ComputeDtype is not { } d) return _lmHead is not null ? _lmHead.forward(hidden) : hidden.matmul(_model.EmbedTokens.weight!.t());
        var logits = ComputePrecision.Cast(hidden, d).matmul(ComputePrecision.Cast(HeadWeight, d).t());
        return ComputePrecision.Cast(logits, ScalarType.Float32);
    }
}
