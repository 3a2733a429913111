using OpenDllm.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules.Perceiver;

/// <summary>
/// One Perceiver layer (SPEC §6.2), pre-norm with two residual updates of the queries q [B, Q, w]:
/// <code>
/// q ← q + Attn(LN_x(x), LN_q(q))                 (PerceiverAttention: keys/values = [LN_x(x); LN_q(q)])
/// q ← q + FFN(q),  FFN = LN → Linear(w, m·w) → GELU → Dropout → Linear(m·w, w)
/// </code>
/// Built without a context (<c>hasContext: false</c>) it is a plain bidirectional self-attention transformer block
/// (keys = queries; the token decoder's layers): LN_x then does not exist, so no parameter goes unused.
/// Parameter names: <c>context_norm</c> (LN_x, with a context only), <c>query_norm</c> (LN_q), <c>attention</c>,
/// <c>ffn_norm</c>, <c>ffn.fc1</c>, <c>ffn.fc2</c>.
/// </summary>
public sealed class PerceiverBlock : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    [ComponentName(Name = "context_norm")] readonly LayerNorm? _contextNorm;
    [ComponentName(Name = "query_norm")] readonly LayerNorm _queryNorm;
    [ComponentName(Name = "attention")] readonly PerceiverAttention _attention;
    [ComponentName(Name = "ffn_norm")] readonly LayerNorm _ffnNorm;
    [ComponentName(Name = "ffn")] readonly GeluMlp _ffn;

    /// <param name="width">w of the queries (and of x).</param>
    /// <param name="heads">attention heads (divide w).</param>
    /// <param name="ffnMultiplier">m: the FFN's inner width is m·w.</param>
    /// <param name="dropout">dropout of the attention output and inside the FFN (training only).</param>
    /// <param name="normEps">ε of the layer norms and the QK RMS norms.</param>
    /// <param name="hasContext">true: cross-attends to an x (Perceiver encoder/decoder); false: self-attention only.</param>
    public PerceiverBlock(long width, int heads, int ffnMultiplier, double dropout, double normEps, bool hasContext = true, Device? device = null)
        : base(nameof(PerceiverBlock))
    {
        if (hasContext) _contextNorm = nn.LayerNorm(width, normEps, device: device);
        _queryNorm = nn.LayerNorm(width, normEps, device: device);
        _attention = new PerceiverAttention(width, heads, dropout, normEps, device);
        _ffnNorm = nn.LayerNorm(width, normEps, device: device);
        _ffn = new GeluMlp(width, ffnMultiplier * width, dropout, device);
        RegisterComponents();
    }

    /// <summary>Whether this block attends to a context x.</summary>
    public bool HasContext => _contextNorm is not null;

    /// <summary>The block's attention.</summary>
    public PerceiverAttention Attention => _attention;

    /// <summary>Layer norms γ = 1, β = 0; attention then FFN N(0, 0.02) (in that order).</summary>
    public void Initialize(Generator generator)
    {
        if (_contextNorm is not null) SeededInit.LayerNorm(_contextNorm);
        SeededInit.LayerNorm(_queryNorm);
        SeededInit.LayerNorm(_ffnNorm);
        _attention.Initialize(generator);
        _ffn.Initialize(generator);
    }

    /// <summary>The updated queries [B, Q, w].</summary>
    /// <param name="queries">q [B, Q, w].</param>
    /// <param name="context">x [B, N, w], or null (self-attention; required to be null without a context norm).</param>
    /// <param name="keyPadding">[B, N] bool, true = real position of x; null = all real.</param>
    public override Tensor forward(Tensor queries, Tensor? context, Tensor? keyPadding)
    {
        if (context is not null && _contextNorm is null)
            throw new ArgumentException("this block was built without a context (self-attention only) but was given one", nameof(context));
        var x = context is null ? null : _contextNorm!.forward(context);
        queries = queries.AddScaled(_attention.forward(_queryNorm.forward(queries), x, keyPadding));   // ScalarOps: kept alpha Scalars
        return queries.AddScaled(_ffn.forward(_ffnNorm.forward(queries)));
    }
}
