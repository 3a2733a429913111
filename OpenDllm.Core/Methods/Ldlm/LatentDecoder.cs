using OpenDllm.Modules;
using OpenDllm.Modules.Perceiver;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's Perceiver decoder (SPEC §6.1 item 4, §6.2): L learned position queries cross-attend to the latents z [B, K, d]
/// (no padding: every latent is real) and are projected to the frozen LM's width, ĥ [B, L, D]:
/// <code>
/// p⁰ = P (learned [L, d], N(0, 0.02)),   pˡ = PerceiverBlockˡ(pˡ⁻¹, z)   for l = 1 … DecoderLayers
/// ĥ = LN(p^last)·W_outᵀ + b_out          (d → D)
/// </code>
/// ĥ is what the MSE loss L_h compares with h (SPEC §6.3) and what the token decoder reads; the learned positions enter
/// through the queries, so ĥ already carries them. Parameter names: <c>queries</c>, <c>layers.{i}</c>, <c>norm</c>,
/// <c>output_proj</c>.
/// </summary>
public sealed class LatentDecoder : nn.Module
{
    [ComponentName(Name = "queries")] readonly Parameter _queries;
    [ComponentName(Name = "layers")] readonly ModuleList<PerceiverBlock> _layers;
    [ComponentName(Name = "norm")] readonly LayerNorm _norm;
    [ComponentName(Name = "output_proj")] readonly Linear _outputProj;
    readonly LdlmArchitecture _arch;

    public LatentDecoder(LdlmArchitecture architecture, Device? device = null) : base(nameof(LatentDecoder))
    {
        _arch = architecture;
        long d = architecture.LatentDim;
        _queries = new Parameter(zeros(architecture.Length, d, device: device).DetachFromDisposeScope());
        _queries.DetachFromDisposeScope();
        _layers = nn.ModuleList(Enumerable.Range(0, architecture.DecoderLayers)
            .Select(_ => new PerceiverBlock(d, architecture.PerceiverHeads, architecture.FfnMultiplier, architecture.Dropout,
                                            architecture.NormEps, hasContext: true, device)).ToArray());
        _norm = nn.LayerNorm(d, architecture.NormEps, device: device);
        _outputProj = nn.Linear(d, architecture.EncoderHiddenSize, hasBias: true, device: device);
        RegisterComponents();
    }

    /// <summary>The learned position queries [L, d].</summary>
    public Parameter Queries => _queries;

    /// <summary>In order: queries (N(0, 0.02)), each block, final norm, output projection.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Normal(_queries, generator);
        foreach (var layer in _layers) layer.Initialize(generator);
        SeededInit.LayerNorm(_norm);
        SeededInit.Linear(_outputProj, generator);
    }

    /// <summary>ĥ [B, L, D] decoded from the latents <paramref name="latents"/> [B, K, d].</summary>
    public Tensor DecodeHidden(Tensor latents)
    {
        if (latents.dim() != 3 || latents.shape[2] != _arch.LatentDim)
            throw new ArgumentException($"latents must be [B, K, {_arch.LatentDim}], got [{string.Join(", ", latents.shape)}]", nameof(latents));
        var p = _queries.unsqueeze(0).expand(latents.shape[0], -1, -1);
        foreach (var layer in _layers) p = layer.forward(p, latents, null);
        return _outputProj.forward(_norm.forward(p));
    }
}
