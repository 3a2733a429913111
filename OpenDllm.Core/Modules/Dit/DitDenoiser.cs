using OpenDllm.Sampling.Latent;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules.Dit;

/// <summary>
/// LDLM's diffusion model (SPEC §6.1 item 3): a DiT (Peebles &amp; Xie 2023, <see href="https://arxiv.org/abs/2212.09748"/>)
/// over the K latent vectors that predicts the clean latents (x0-prediction, SPEC §6.3's L_diff). Self-conditioning
/// (SPEC §6.6) enters by concatenation along the feature axis:
/// <code>
/// u⁰ = [z_t ; ẑ₀^sc]·W_inᵀ + b_in + P          ([B, K, 2d] → [B, K, w]; P learned [K, w], N(0, 0.02))
/// c  = TimestepEmbedding(t)                     ([B, w])
/// uˡ = DitBlockˡ(uˡ⁻¹, c)                        for l = 1 … DitLayers
/// (β, γ) = chunk₂(W_f·SiLU(c) + b_f)            (W_f, b_f initialised to 0)
/// ẑ₀ = (LN(u^last) ⊙ (1 + γ) + β)·W_outᵀ + b_out   ([B, K, d]; W_out, b_out initialised to 0)
/// </code>
/// At initialisation the output layer is zero, so ẑ₀ = 0 for every input (adaLN-Zero: each block is the identity and the
/// final projection is zero); training moves it away from there. The position embedding is learned (the latents have no
/// natural 2-D grid for DiT's fixed sin-cos table). Parameter names: <c>input_proj</c>, <c>positions</c>,
/// <c>time_embedding</c>, <c>blocks.{i}</c>, <c>final_modulation</c>, <c>output_proj</c>.
/// </summary>
public sealed class DitDenoiser : nn.Module, ILatentDenoiser
{
    [ComponentName(Name = "input_proj")] readonly Linear _inputProj;
    [ComponentName(Name = "positions")] readonly Parameter _positions;
    [ComponentName(Name = "time_embedding")] readonly TimestepEmbedding _time;
    [ComponentName(Name = "blocks")] readonly ModuleList<DitBlock> _blocks;
    [ComponentName(Name = "final_modulation")] readonly Linear _finalModulation;
    [ComponentName(Name = "output_proj")] readonly Linear _outputProj;
    readonly long _latents, _latentDim, _width;
    readonly double _eps;

    /// <param name="latents">K.</param>
    /// <param name="latentDim">d.</param>
    /// <param name="width">w, the DiT width.</param>
    /// <param name="layers">number of DiT blocks.</param>
    /// <param name="heads">attention heads (divide w).</param>
    /// <param name="mlpMultiplier">MLP inner width multiple.</param>
    /// <param name="dropout">dropout (training only).</param>
    /// <param name="normEps">ε of the layer norms and QK RMS norms.</param>
    public DitDenoiser(long latents, long latentDim, long width, int layers, int heads, int mlpMultiplier, double dropout,
                       double normEps, Device? device = null) : base(nameof(DitDenoiser))
    {
        if (latents <= 0 || latentDim <= 0 || width <= 0 || layers <= 0)
            throw new ArgumentOutOfRangeException(nameof(latents), $"latents {latents}, latent dim {latentDim}, width {width} and layers {layers} must all be > 0");
        _latents = latents; _latentDim = latentDim; _width = width; _eps = normEps;
        _inputProj = nn.Linear(2 * latentDim, width, hasBias: true, device: device);
        _positions = new Parameter(zeros(latents, width, device: device).DetachFromDisposeScope());
        _positions.DetachFromDisposeScope();
        _time = new TimestepEmbedding(width, device: device);
        _blocks = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(_ => new DitBlock(width, heads, mlpMultiplier, dropout, normEps, device)).ToArray());
        _finalModulation = nn.Linear(width, 2 * width, hasBias: true, device: device);
        _outputProj = nn.Linear(width, latentDim, hasBias: true, device: device);
        SeededInit.Zero(_finalModulation);
        SeededInit.Zero(_outputProj);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public long Latents => _latents;

    /// <inheritdoc/>
    public long LatentDim => _latentDim;

    /// <summary>The zero-initialised output projection width → d.</summary>
    public Linear OutputProjection => _outputProj;

    /// <summary>In order: input projection, positions, time embedding, each block (N(0, 0.02)); final modulation and
    /// output projection zero.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Linear(_inputProj, generator);
        SeededInit.Normal(_positions, generator);
        _time.Initialize(generator);
        foreach (var block in _blocks) block.Initialize(generator);
        SeededInit.Zero(_finalModulation);
        SeededInit.Zero(_outputProj);
    }

    /// <inheritdoc/>
    public Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition)
    {
        RequireLatents(noisy, nameof(noisy));
        RequireLatents(selfCondition, nameof(selfCondition));
        long b = noisy.shape[0];
        if (selfCondition.shape[0] != b) throw new ArgumentException($"self-condition batch {selfCondition.shape[0]} differs from the latents' {b}", nameof(selfCondition));
        if (time.dim() != 1 || time.shape[0] != b) throw new ArgumentException($"times must be [{b}], got [{string.Join(", ", time.shape)}]", nameof(time));

        var u = _inputProj.forward(cat([noisy, selfCondition], -1)) + _positions;                  // [B, K, w]
        var c = _time.forward(time);                                                              // [B, w]
        foreach (var block in _blocks) u = block.forward(u, c);
        var m = _finalModulation.forward(nn.functional.silu(c)).unsqueeze(1).chunk(2, -1);       // shift, scale [B, 1, w]
        var h = DitBlock.Modulate(nn.functional.layer_norm(u, [_width], null, null, _eps), m[0], m[1]);
        return _outputProj.forward(h);
    }

    void RequireLatents(Tensor t, string name)
    {
        if (t.dim() != 3 || t.shape[1] != _latents || t.shape[2] != _latentDim)
            throw new ArgumentException($"{name} must be [B, {_latents}, {_latentDim}], got [{string.Join(", ", t.shape)}]", name);
    }
}
