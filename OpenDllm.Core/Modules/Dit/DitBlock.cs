using OpenDllm.Modules.Perceiver;
using OpenDllm.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules.Dit;

/// <summary>
/// A DiT block with adaLN-Zero conditioning (Peebles &amp; Xie 2023, <see href="https://arxiv.org/abs/2212.09748"/>) over
/// the K latents x [B, K, w], conditioned on c [B, w] (the time embedding):
/// <code>
/// (β₁, γ₁, α₁, β₂, γ₂, α₂) = chunk₆(W_mod·SiLU(c) + b_mod)          (6·w; W_mod, b_mod initialised to 0)
/// x ← x + α₁ ⊙ Attn(LN(x) ⊙ (1 + γ₁) + β₁)                          (bidirectional self-attention, QK-RMSNorm)
/// x ← x + α₂ ⊙ MLP(LN(x) ⊙ (1 + γ₂) + β₂)                           (Linear → GELU → Linear, m·w inner)
/// </code>
/// LN has no affine parameters (the modulation supplies scale and shift). With the modulation zero, α₁ = α₂ = 0 and the
/// block starts as the identity. The attention is <see cref="PerceiverAttention"/> without a context (separate q/k RMS
/// norms, which DiT lacks but which keep logits bounded); the MLP's GELU is the exact form (DiT uses the tanh
/// approximation). Parameter names: <c>modulation</c>, <c>attention</c>, <c>mlp.fc1</c>, <c>mlp.fc2</c>.
/// </summary>
public sealed class DitBlock : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "modulation")] readonly Linear _modulation;
    [ComponentName(Name = "attention")] readonly PerceiverAttention _attention;
    [ComponentName(Name = "mlp")] readonly GeluMlp _mlp;
    readonly long _width;
    readonly double _eps;

    /// <param name="width">w of the latent tokens and of c.</param>
    /// <param name="heads">attention heads (divide w).</param>
    /// <param name="mlpMultiplier">m: the MLP's inner width is m·w.</param>
    /// <param name="dropout">dropout of the attention output and inside the MLP (training only).</param>
    /// <param name="normEps">ε of the layer norms and QK RMS norms.</param>
    public DitBlock(long width, int heads, int mlpMultiplier, double dropout, double normEps, Device? device = null) : base(nameof(DitBlock))
    {
        _width = width; _eps = normEps;
        _modulation = nn.Linear(width, 6 * width, hasBias: true, device: device);
        _attention = new PerceiverAttention(width, heads, dropout, normEps, device);
        _mlp = new GeluMlp(width, mlpMultiplier * width, dropout, device);
        SeededInit.Zero(_modulation);
        RegisterComponents();
    }

    /// <summary>The adaLN modulation layer (zero at initialisation).</summary>
    public Linear Modulation => _modulation;

    /// <summary>Attention and MLP N(0, 0.02) in that order; the modulation zero (adaLN-Zero).</summary>
    public void Initialize(Generator generator)
    {
        _attention.Initialize(generator);
        _mlp.Initialize(generator);
        SeededInit.Zero(_modulation);
    }

    /// <summary>The updated latent tokens [B, K, w].</summary>
    /// <param name="x">[B, K, w].</param>
    /// <param name="condition">c [B, w].</param>
    public override Tensor forward(Tensor x, Tensor condition)
    {
        var m = _modulation.forward(nn.functional.silu(condition)).unsqueeze(1).chunk(6, -1);     // 6 × [B, 1, w]
        var h = Modulate(Norm(x), m[0], m[1]);
        x = x.AddScaled(m[2] * _attention.forward(h, null, null));           // ScalarOps: the sums' alpha Scalars kept
        h = Modulate(Norm(x), m[3], m[4]);
        return x.AddScaled(m[5] * _mlp.forward(h));
    }

    /// <summary>LayerNorm over the last dimension without affine parameters.</summary>
    Tensor Norm(Tensor x) => nn.functional.layer_norm(x, [_width], null, null, _eps);

    /// <summary>h ⊙ (1 + γ) + β, written as h + h ⊙ γ + β.</summary>
    internal static Tensor Modulate(Tensor h, Tensor shift, Tensor scale) => h.AddScaled(h * scale).AddScaled(shift);
}
