using OpenDllm.Modules;
using OpenDllm.Modules.Perceiver;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's Perceiver encoder, the latent compressor (SPEC §6.1 item 2, §6.2): K learned queries cross-attend to the frozen
/// LM's hidden states h [B, L, D] and become the latents z [B, K, d]:
/// <code>
/// x = h·W_inᵀ + b_in + P[:L]             (D → d; P learned [L, d], N(0, 1): the scale of the projected h)
/// q⁰ = Q (learned [K, d], N(0, 0.02)),   qˡ = PerceiverBlockˡ(qˡ⁻¹, x, padding)   for l = 1 … EncoderLayers
/// z = LN(q^last)
/// z ← z / ‖z‖ · √d   per latent vector   (when NormalizeLatents)
/// </code>
/// The final LayerNorm is kept (the Perceiver resampler the authors' code follows ends with one). Without the
/// normalisation it bounds the latents' scale; with it, it only shapes the direction before z is put on the sphere of
/// radius √d (per-coordinate second moment 1, the scale of the diffusion's unit-variance noise, SPEC §6.4). Note that at
/// initialisation (γ = 1, β = 0) the LayerNorm output already has norm √(d·v/(v + ε)) ≈ √d (v its variance), so the two
/// differ only once the LayerNorm's γ, β have trained.
/// The learned positions P are this toolkit's addition (the Perceiver resampler of Flamingo adds them too): attention over x
/// is otherwise blind to order, and the hidden states of a RoPE language model carry no absolute position, so a window
/// and its cyclic shifts (the same tokens in another order) would compress to nearly the same latents. On a repetitive
/// corpus without them the reconstruction stayed at chance (LdlmEndToEndTests).
/// Parameter names: <c>input_proj</c>, <c>positions</c>, <c>queries</c>, <c>layers.{i}</c>, <c>norm</c>.
/// </summary>
public sealed class LatentEncoder : nn.Module
{
    [ComponentName(Name = "input_proj")] readonly Linear _inputProj;
    [ComponentName(Name = "positions")] readonly Parameter _positions;
    [ComponentName(Name = "queries")] readonly Parameter _queries;
    [ComponentName(Name = "layers")] readonly ModuleList<PerceiverBlock> _layers;
    [ComponentName(Name = "norm")] readonly LayerNorm _norm;
    readonly LdlmArchitecture _arch;
    readonly Scalar _radius, _tiny;

    public LatentEncoder(LdlmArchitecture architecture, Device? device = null) : base(nameof(LatentEncoder))
    {
        _arch = architecture;
        long d = architecture.LatentDim;
        _inputProj = nn.Linear(architecture.EncoderHiddenSize, d, hasBias: true, device: device);
        _positions = new Parameter(zeros(architecture.Length, d, device: device).DetachFromDisposeScope());
        _positions.DetachFromDisposeScope();
        _queries = new Parameter(zeros(architecture.Latents, d, device: device).DetachFromDisposeScope());
        _queries.DetachFromDisposeScope();
        _layers = nn.ModuleList(Enumerable.Range(0, architecture.EncoderLayers)
            .Select(_ => new PerceiverBlock(d, architecture.PerceiverHeads, architecture.FfnMultiplier, architecture.Dropout,
                                            architecture.NormEps, hasContext: true, device)).ToArray());
        _norm = nn.LayerNorm(d, architecture.NormEps, device: device);
        _radius = Math.Sqrt(d).ToScalar();
        _tiny = 1e-12.ToScalar();
        RegisterComponents();
    }

    /// <summary>The learned queries [K, d].</summary>
    public Parameter Queries => _queries;

    /// <summary>In order: input projection, positions and queries (N(0, 0.02)), each block, final norm.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Linear(_inputProj, generator);
        SeededInit.Normal(_positions, generator, std: 1.0);
        SeededInit.Normal(_queries, generator);
        foreach (var layer in _layers) layer.Initialize(generator);
        SeededInit.LayerNorm(_norm);
    }

    /// <summary>The latents z [B, K, d] of the hidden states <paramref name="hidden"/> [B, L, D].</summary>
    /// <param name="hidden">h [B, L, D] (float32; the frozen LM's hidden states at the chosen layer).</param>
    /// <param name="keyPadding">[B, L] bool, true = real token; null = every token real. Padded positions are never
    /// attended to, so their values do not matter.</param>
    public Tensor Encode(Tensor hidden, Tensor? keyPadding = null)
    {
        if (hidden.dim() != 3 || hidden.shape[2] != _arch.EncoderHiddenSize)
            throw new ArgumentException($"hidden states must be [B, L, {_arch.EncoderHiddenSize}], got [{string.Join(", ", hidden.shape)}]", nameof(hidden));
        if (hidden.shape[1] > _arch.Length)
            throw new ArgumentException($"hidden states have {hidden.shape[1]} positions, more than the encoder's {_arch.Length} (length)", nameof(hidden));
        var x = _inputProj.forward(hidden) + _positions.narrow(0, 0, hidden.shape[1]);
        var z = _queries.unsqueeze(0).expand(hidden.shape[0], -1, -1);
        foreach (var layer in _layers) z = layer.forward(z, x, keyPadding);
        z = _norm.forward(z);
        return _arch.NormalizeLatents ? Normalize(z) : z;
    }

    /// <summary>z / ‖z‖₂ · √d over the last dimension (‖z‖ floored at 1e-12): every latent vector gets norm √d.</summary>
    Tensor Normalize(Tensor z) => z / z.norm(-1, keepdim: true).clamp_min(_tiny) * _radius;

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _radius.Dispose(); _tiny.Dispose(); }
        base.Dispose(disposing);
    }
}
