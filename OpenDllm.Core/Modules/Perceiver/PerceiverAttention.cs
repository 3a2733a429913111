using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules.Perceiver;

/// <summary>
/// Perceiver attention (SPEC §6.2): queries come from the latents q [B, Q, w]; keys and values from the concatenation
/// [x; q] [B, N + Q, w], so every query also attends to all queries (itself included). Per head (width w/H):
/// <code>
/// Q = RMSNorm_q(q·W_qᵀ),  K = RMSNorm_k([x; q]·W_kᵀ),  V = [x; q]·W_vᵀ
/// A = softmax(Q·Kᵀ/√(w/H) + M)·V,   out = Dropout(A·W_oᵀ)
/// </code>
/// where M is −∞ at the padded positions of x (<c>keyPadding</c> false) and 0 elsewhere; the query part of the keys is
/// never masked, so a row whose x is entirely padding still has Q keys and a finite output. Projections have no bias
/// (as in the Perceiver-resampler lineage the authors' code follows); dropout acts on the projected output, in training only.
/// <para>
/// <b>QK-RMSNorm with separate q and k norms</b> (<c>q_norm</c>, <c>k_norm</c>, each a learned [w/H] gain shared by the
/// heads). The authors' earlier code (DiffusionTextGeneration-cond-ca, autoencoder/perceiver_resampler.py) normalises the
/// keys with the <i>query</i> norm module by mistake (SPEC §6.2, §10), so its keys and queries share one gain; this
/// toolkit does not replicate that.
/// </para>
/// With no x (null or N = 0) this is plain bidirectional self-attention over the queries (keys = values source = q).
/// Parameter names: <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>, <c>q_norm</c>, <c>k_norm</c>.
/// </summary>
public sealed class PerceiverAttention : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    [ComponentName(Name = "q_proj")] readonly Linear _q;
    [ComponentName(Name = "k_proj")] readonly Linear _k;
    [ComponentName(Name = "v_proj")] readonly Linear _v;
    [ComponentName(Name = "o_proj")] readonly Linear _o;
    [ComponentName(Name = "q_norm")] readonly RmsNorm _qNorm;
    [ComponentName(Name = "k_norm")] readonly RmsNorm _kNorm;
    readonly long _width;
    readonly int _heads;
    readonly double _dropout;

    /// <param name="width">w: the width of the queries, of x and of the output.</param>
    /// <param name="heads">H, which must divide <paramref name="width"/>.</param>
    /// <param name="dropout">dropout probability on the output (training only).</param>
    /// <param name="normEps">ε of the QK RMS norms.</param>
    public PerceiverAttention(long width, int heads, double dropout, double normEps, Device? device = null) : base(nameof(PerceiverAttention))
    {
        if (heads <= 0 || width % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, $"attention heads must be > 0 and divide the width {width}");
        _width = width; _heads = heads; _dropout = dropout;
        _q = nn.Linear(width, width, hasBias: false, device: device);
        _k = nn.Linear(width, width, hasBias: false, device: device);
        _v = nn.Linear(width, width, hasBias: false, device: device);
        _o = nn.Linear(width, width, hasBias: false, device: device);
        _qNorm = new RmsNorm(width / heads, normEps, device);
        _kNorm = new RmsNorm(width / heads, normEps, device);
        RegisterComponents();
    }

    /// <summary>The query norm (distinct from <see cref="KeyNorm"/>).</summary>
    public RmsNorm QueryNorm => _qNorm;

    /// <summary>The key norm (distinct from <see cref="QueryNorm"/>).</summary>
    public RmsNorm KeyNorm => _kNorm;

    /// <summary>Projections N(0, 0.02) in the order q, k, v, o; norm gains 1.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Linear(_q, generator);
        SeededInit.Linear(_k, generator);
        SeededInit.Linear(_v, generator);
        SeededInit.Linear(_o, generator);
        SeededInit.RmsNorm(_qNorm);
        SeededInit.RmsNorm(_kNorm);
    }

    /// <summary>The attention output [B, Q, w].</summary>
    /// <param name="queries">q [B, Q, w] (already normalised by the block).</param>
    /// <param name="context">x [B, N, w] (already normalised), or null / N = 0 for self-attention.</param>
    /// <param name="keyPadding">[B, N] bool, true = a real position of x; null = every position real. Only with a context.</param>
    public override Tensor forward(Tensor queries, Tensor? context, Tensor? keyPadding)
    {
        if (queries.dim() != 3 || queries.shape[2] != _width)
            throw new ArgumentException($"queries must be [B, Q, {_width}], got [{string.Join(", ", queries.shape)}]", nameof(queries));
        long b = queries.shape[0], nq = queries.shape[1];
        bool hasContext = context is not null && context.shape[1] > 0;
        if (hasContext && (context!.dim() != 3 || context.shape[0] != b || context.shape[2] != _width))
            throw new ArgumentException($"context must be [{b}, N, {_width}], got [{string.Join(", ", context.shape)}]", nameof(context));
        var source = hasContext ? cat([context!, queries], 1) : queries;                       // [B, N + Q, w]
        long nk = source.shape[1], headDim = _width / _heads;

        var q = _qNorm.forward(_q.forward(queries).view(b, nq, _heads, headDim)).transpose(1, 2);   // [B, H, Q, w/H]
        var k = _kNorm.forward(_k.forward(source).view(b, nk, _heads, headDim)).transpose(1, 2);    // [B, H, N+Q, w/H]
        var v = _v.forward(source).view(b, nk, _heads, headDim).transpose(1, 2);
        var mask = KeyMask(keyPadding, hasContext ? context! : null, b, nq);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, mask);            // [B, H, Q, w/H]
        var output = _o.forward(attended.transpose(1, 2).reshape(b, nq, _width));
        return training && _dropout > 0 ? nn.functional.dropout(output, _dropout, training: true) : output;
    }

    /// <summary>[B, 1, 1, N + Q] bool (true = may attend): the x mask followed by Q trues; null when nothing is padded.</summary>
    static Tensor? KeyMask(Tensor? keyPadding, Tensor? context, long b, long nq)
    {
        if (keyPadding is null) return null;
        if (context is null) throw new ArgumentException("a key padding mask was given without a context x", nameof(keyPadding));
        long n = context.shape[1];
        if (keyPadding.dtype != ScalarType.Bool || keyPadding.dim() != 2 || keyPadding.shape[0] != b || keyPadding.shape[1] != n)
            throw new ArgumentException($"key padding must be bool [{b}, {n}], got {keyPadding.dtype} [{string.Join(", ", keyPadding.shape)}]", nameof(keyPadding));
        var queryPart = ones(b, nq, dtype: ScalarType.Bool, device: keyPadding.device);
        return cat([keyPadding, queryPart], 1).view(b, 1, 1, n + nq);
    }
}
