using OpenDllm.Models;
using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// The masked-diffusion (MDLM) training loss over one forward of x_t (SPEC §1.2–1.4, §2.3–2.4, §2.7):
/// <code>
/// L = (1/Z) Σ_{i ∈ M} ℓ_i,   M = active predictions (target masked, candidate; <see cref="LossTargets"/>)
/// </code>
/// with ℓ_i from <see cref="MdlmWeighting"/> and Z from <see cref="LossNormalization"/>. Sahoo et al., "Simple and
/// Effective Masked Diffusion Language Models", <see href="https://arxiv.org/abs/2406.07524"/>.
/// </summary>
public static class MdlmLoss
{
    /// <summary>
    /// The reference (dense) loss of <paramref name="logits"/> [B, L, V] against the clean tokens <paramref name="x0"/> [B, L]
    /// (long). <paramref name="masked"/> [B, L] (bool or 0/1) marks the positions replaced by [MASK] in x_t; <paramref name="t"/>
    /// is the mask ratio per token [B, L] or per sequence [B]; <paramref name="maskable"/> and <paramref name="documentEnd"/>
    /// [B, L] restrict the candidates (see <see cref="LossTargets"/>). Zero active predictions give a loss of exactly 0 with a
    /// finite (zero) gradient. Training uses the <see cref="Compute(HeadInput, Tensor, Tensor, Tensor, MdlmLossOptions, Tensor?, Tensor?)"/>
    /// overload, which gives the same value and gradient without [B, L, V] logits.
    /// </summary>
    public static TokenLossResult Compute(Tensor logits, Tensor x0, Tensor masked, Tensor t, MdlmLossOptions options,
                                          Tensor? maskable = null, Tensor? documentEnd = null)
    {
        options.Validate();
        CheckShapes(logits.shape, x0, masked, t);
        bool shift = options.ShiftLogits;
        using var scope = NewDisposeScope();

        // 1. SUBS: the model never predicts [MASK]                                    [B, L, V]
        var z = options.MaskTokenId is long m ? LogitMasks.SuppressToken(logits, m) : logits;

        // 2. align predictions with targets (shift: output i scores token i + 1)      [B, L′, V], [B, L′]
        var pred = LossTargets.Predictions(z, shift);
        var target = LossTargets.Targets(x0, shift);
        var active = LossTargets.Active(masked, shift, maskable, documentEnd);                         // [B, L′] bool

        // 3. per-prediction cross entropy, zeroed off M (where, not ×, so no inf·0)   [B, L′]
        var ce = where(active, CrossEntropy(pred, target), 0f);

        // 4.–5. weighted terms, normalised
        return FromTokenCe(ce, x0, t, active, options, maskable, documentEnd).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss as the dense overload, from the final hidden states and head weight (<see cref="Qwen2Model.ForwardToHead"/>):
    /// the head is applied only at the active predictions (for a shifted model, the rows one to the left of the masked
    /// targets, SPEC §2.3), a chunk of rows at a time, with the float32 log-softmax per chunk
    /// (<see cref="ChunkedCrossEntropy"/>). Value and gradient equal the dense loss's up to float32 rounding.
    /// One host synchronisation sizes the selection (the nonzero of the active mask); nothing else reads the device.
    /// </summary>
    public static TokenLossResult Compute(HeadInput head, Tensor x0, Tensor masked, Tensor t, MdlmLossOptions options,
                                          Tensor? maskable = null, Tensor? documentEnd = null)
    {
        options.Validate();
        CheckShapes(head.LogitsShape, x0, masked, t);
        if (options.MaskTokenId is long mask && mask >= head.Weight.shape[0])
            throw new ArgumentOutOfRangeException(nameof(options), mask, $"mask id outside the vocabulary of {head.Weight.shape[0]}");
        using var scope = NewDisposeScope();

        // 1. the active predictions and the CE there, SUBS inside the chunks          [B, L′] bool, [N]
        var active = LossTargets.Active(masked, options.ShiftLogits, maskable, documentEnd);
        var ce = SelectedCrossEntropy(head, x0, active, options.ShiftLogits, options.MaskTokenId);

        // 2.–3. the dense layout (0 off M), weighted terms, normalised                [B, L′]
        return FromTokenCe(ce, x0, t, active, options, maskable, documentEnd).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// CE at the <paramref name="active"/> predictions [B, L′] of <paramref name="head"/> against <paramref name="x0"/> [B, L],
    /// laid out as [B, L′] with 0 elsewhere (differentiable). Output row (b, i) scores token (b, i + 1) when shifted, else (b, i).
    /// </summary>
    public static Tensor SelectedCrossEntropy(HeadInput head, Tensor x0, Tensor active, bool shift, long? suppressToken = null)
    {
        var shape = head.LogitsShape;
        if (x0.dim() != 2 || shape[0] != x0.shape[0] || shape[1] != x0.shape[1])
            throw new ArgumentException($"x0 must be [{shape[0]}, {shape[1]}], got [{string.Join(", ", x0.shape)}]", nameof(x0));
        using var scope = NewDisposeScope();
        long b = x0.shape[0], l = x0.shape[1], width = active.shape[1], d = head.Hidden.shape[2];
        var at = active.nonzero();                                                   // [N, 2] (row, prediction), row-major
        var (rowOf, colOf) = (at.select(1, 0), at.select(1, 1));                     // [N], [N]
        var source = rowOf * l + colOf;                                              // [N] flat index into [B·L] of the predicting row
        var hidden = head.Hidden.reshape(b * l, d).index_select(0, source);         // [N, D]
        var target = x0.reshape(b * l).index_select(0, shift ? source + 1 : source); // [N]
        var ce = ChunkedCrossEntropy.Compute(hidden, head.Weight, target, suppressToken, head.ChunkRows, head.Bias);   // [N]
        var dense = zeros(b * width, dtype: ScalarType.Float32, device: ce.device)
                    .index_add(0, rowOf * width + colOf, ce, 1);                      // [B·L′]
        return dense.view(b, width).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Steps 4–5 shared by both overloads: ℓ_i from the per-prediction CE <paramref name="ce"/> [B, L′] (0 off M), then the
    /// normalisation. The target count stays on the device (read <see cref="TokenLossResult.NumTargets"/> to sync).
    /// </summary>
    static TokenLossResult FromTokenCe(Tensor ce, Tensor x0, Tensor t, Tensor active, MdlmLossOptions options, Tensor? maskable, Tensor? documentEnd)
    {
        bool shift = options.ShiftLogits;
        long b = x0.shape[0], l = x0.shape[1];
        var tTok = LossTargets.Targets(t.dim() == 1 ? t.unsqueeze(1).expand(b, l) : t, shift).to(ScalarType.Float32);   // [B, L′]
        var candidates = LossTargets.Candidates(b, l, shift, x0.device, maskable, documentEnd);       // [B, L′] bool

        // 4. weighted per-prediction term ℓ_i                                         [B, L′]
        var term = WeightedTerm(ce, tTok, active, options);

        // 5. normalise                                                                []
        var loss = Normalize(term, active, candidates, options);
        return new TokenLossResult(loss, ce.detach(), active.sum());
    }

    /// <summary>CE_i = −log softmax(pred_i)[target_i] in float32, per prediction. [B, L′, V], [B, L′] → [B, L′]</summary>
    public static Tensor CrossEntropy(Tensor pred, Tensor target)
    {
        using var scope = NewDisposeScope();
        long v = pred.shape[^1];
        var flat = pred.reshape(-1, v).to(ScalarType.Float32);                                      // [B·L′, V]
        var ce = nn.functional.cross_entropy(flat, target.reshape(-1), reduction: nn.Reduction.None); // [B·L′]
        return ce.view(target.shape).MoveToOuterDisposeScope();                                       // [B, L′]
    }

    /// <summary>
    /// ℓ_i of <see cref="MdlmWeighting"/> plus the <see cref="PathLoss"/> term on active predictions, 0 elsewhere.
    /// p_i = sg(e^{−CE_i}); the time weight is sanitised to 0 off M first, so t = 0 on an unmasked token cannot produce NaN
    /// gradients. <c>opendllm_latest</c> and <c>opendllm_qwen3</c> are computed as <c>uniform</c> + their path term
    /// (<see cref="PathLoss.InvT"/>, <see cref="PathLoss.Plain"/>); <c>opendllm_v1</c>, (1/t)·(CE + p·CE), stays fused so its
    /// float32 rounding is the reference's. [B, L′]
    /// </summary>
    public static Tensor WeightedTerm(Tensor ce, Tensor t, Tensor active, MdlmLossOptions options)
    {
        using var scope = NewDisposeScope();
        var invT = where(active, t.reciprocal(), 0f);                       // 1/t_i on M
        var (weighting, pathLoss) = options.Weighting switch
        {
            MdlmWeighting.OpenDllmLatest => (MdlmWeighting.Uniform, PathLoss.InvT),
            MdlmWeighting.OpenDllmQwen3NoInvT => (MdlmWeighting.Uniform, PathLoss.Plain),
            var w => (w, options.Path),
        };
        var term = weighting switch
        {
            MdlmWeighting.Scheduler => where(active, SchedulerWeight(t, options), 0f) * ce,
            MdlmWeighting.Uniform => ce,
            MdlmWeighting.OpenDllmV1 => invT * ce.AddScaled(PathTerm(ce)),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Weighting, "unknown weighting"),
        };
        term = pathLoss switch
        {
            PathLoss.None => term,
            PathLoss.InvT => term.AddScaled(invT * PathTerm(ce)),
            PathLoss.Plain => term.AddScaled(PathTerm(ce)),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Path, "unknown path loss"),
        };
        return term.MoveToOuterDisposeScope();
    }

    /// <summary>Open-dLLM's path term sg(e^{−CE_i})·CE_i (SPEC §2.4): the detached probability of the right token times its CE. [B, L′]</summary>
    public static Tensor PathTerm(Tensor ce) => exp(-ce).detach() * ce;

    /// <summary>w(t) = −α′(t)/(1 − α(t)) of the options' schedule; 1/t when none is given (linear, SPEC §1.2). [B, L′]</summary>
    public static Tensor SchedulerWeight(Tensor t, MdlmLossOptions options) =>
        options.Schedule is { } schedule ? schedule.LossWeight(t).to(ScalarType.Float32) : t.reciprocal();

    /// <summary>Σ ℓ / Z for the chosen <see cref="LossNormalization"/>. [B, L′] → []</summary>
    public static Tensor Normalize(Tensor term, Tensor active, Tensor candidates, MdlmLossOptions options)
    {
        using var scope = NewDisposeScope();
        long b = term.shape[0];
        var loss = options.Normalization switch
        {
            LossNormalization.MaskedTokens => term.sum() / active.sum().to(ScalarType.Float32).AddScalar(options.MaskedTokensGuard),
            LossNormalization.MaskableTokens => term.sum() / candidates.sum().to(ScalarType.Float32).ClampMinScalar(1),
            LossNormalization.Sequence => (term.sum(1) / candidates.sum(1).to(ScalarType.Float32).ClampMinScalar(1)).sum().DivScalar(b),
            LossNormalization.Batch => term.sum().DivScalar(b),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Normalization, "unknown normalisation"),
        };
        return loss.MoveToOuterDisposeScope();
    }

    private static void CheckShapes(long[] logits, Tensor x0, Tensor masked, Tensor t)
    {
        if (logits.Length != 3) throw new ArgumentException($"logits must be [B, L, V], got [{string.Join(", ", logits)}]", nameof(logits));
        long[] bl = [logits[0], logits[1]];
        if (!x0.shape.SequenceEqual(bl)) throw new ArgumentException($"x0 must be [{bl[0]}, {bl[1]}], got [{string.Join(", ", x0.shape)}]", nameof(x0));
        if (!masked.shape.SequenceEqual(bl)) throw new ArgumentException($"masked must be [{bl[0]}, {bl[1]}], got [{string.Join(", ", masked.shape)}]", nameof(masked));
        bool tOk = t.shape.SequenceEqual(bl) || (t.dim() == 1 && t.shape[0] == bl[0]);
        if (!tOk) throw new ArgumentException($"t must be [B, L] or [B], got [{string.Join(", ", t.shape)}]", nameof(t));
    }
}
