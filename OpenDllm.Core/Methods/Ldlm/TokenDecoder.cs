using OpenDllm.Modules;
using OpenDllm.Modules.Perceiver;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's token decoder (SPEC §6.1 item 4): a small bidirectional transformer on ĥ [B, L, D] and an LM head:
/// <code>
/// yˡ = Blockˡ(yˡ⁻¹)   (self-attention PerceiverBlocks of width D, TokenDecoderHeads heads; y⁰ = ĥ)
/// logits = LN(y^last)·W_headᵀ             ([B, L, V], no bias)
/// </code>
/// No positions are added here: ĥ carries the Perceiver decoder's learned position queries. With TokenDecoderLayers = 0
/// it is LN + head. Parameter names: <c>layers.{i}</c>, <c>norm</c>, <c>lm_head</c>.
/// </summary>
public sealed class TokenDecoder : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layers")] readonly ModuleList<PerceiverBlock> _layers;
    [ComponentName(Name = "norm")] readonly LayerNorm _norm;
    [ComponentName(Name = "lm_head")] readonly Linear _head;
    readonly LdlmArchitecture _arch;

    public TokenDecoder(LdlmArchitecture architecture, Device? device = null) : base(nameof(TokenDecoder))
    {
        _arch = architecture;
        long width = architecture.EncoderHiddenSize;
        _layers = nn.ModuleList(Enumerable.Range(0, architecture.TokenDecoderLayers)
            .Select(_ => new PerceiverBlock(width, architecture.TokenDecoderHeads, architecture.FfnMultiplier, architecture.Dropout,
                                            architecture.NormEps, hasContext: false, device)).ToArray());
        _norm = nn.LayerNorm(width, architecture.NormEps, device: device);
        _head = nn.Linear(width, architecture.VocabSize, hasBias: false, device: device);
        RegisterComponents();
    }

    /// <summary>In order: each block, final norm, LM head (N(0, 0.02)).</summary>
    public void Initialize(Generator generator)
    {
        foreach (var layer in _layers) layer.Initialize(generator);
        SeededInit.LayerNorm(_norm);
        SeededInit.Linear(_head, generator);
    }

    /// <summary>Token logits [B, L, V] of the decoded hidden states <paramref name="hidden"/> ĥ [B, L, D].</summary>
    public override Tensor forward(Tensor hidden)
    {
        if (hidden.dim() != 3 || hidden.shape[2] != _arch.EncoderHiddenSize)
            throw new ArgumentException($"decoded hidden states must be [B, L, {_arch.EncoderHiddenSize}], got [{string.Join(", ", hidden.shape)}]", nameof(hidden));
        var y = hidden;
        foreach (var layer in _layers) y = layer.forward(y, null, null);
        return _head.forward(_norm.forward(y));
    }
}
