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
    /// The loss of <paramref name="logits"/> [B, L, V] against the clean tokens <paramref name="x0"/> [B, L] (long).
    /// <paramref name="masked"/> [B, L] (bool or 0/1) marks the positions replaced by [MASK] in x_t; <paramref name="t"/> is the
    /// mask ratio per token [B, L] or per sequence [B]; <paramref name="maskable"/> and <paramref name="documentEnd"/> [B, L]
    /// restrict the candidates (see <see cref="LossTargets"/>). Zero active predictions give a loss of exactly 0 with a
    /// finite (zero) gradient.
    /// </summary>
    public static TokenLossResult Compute(Tensor logits, Tensor x0, Tensor masked, Tensor t, MdlmLossOptions options,
                                          Tensor? maskable = null, Tensor? documentEnd = null)
    {
        options.Validate();
        CheckShapes(logits, x0, masked, t);
        bool shift = options.ShiftLogits;
        using var scope = NewDisposeScope();
        long b = x0.shape[0], l = x0.shape[1];

        // 1. SUBS: the model never predicts [MASK]                                    [B, L, V]
        var z = options.MaskTokenId is long m ? SuppressToken(logits, m) : logits;

        // 2. align predictions with targets (shift: output i scores token i + 1)      [B, L′, V], [B, L′]
        var pred = LossTargets.Predictions(z, shift);
        var target = LossTargets.Targets(x0, shift);
        var tTok = LossTargets.Targets(t.dim() == 1 ? t.unsqueeze(1).expand(b, l) : t, shift).to(ScalarType.Float32);
        var active = LossTargets.Active(masked, shift, maskable, documentEnd);                         // [B, L′] bool
        var candidates = LossTargets.Candidates(b, l, shift, x0.device, maskable, documentEnd);       // [B, L′] bool

        // 3. per-prediction cross entropy, zeroed off M (where, not ×, so no inf·0)   [B, L′]
        var ce = where(active, CrossEntropy(pred, target), 0f);

        // 4. weighted per-prediction term ℓ_i                                         [B, L′]
        var term = WeightedTerm(ce, tTok, active, options);

        // 5. normalise                                                                []
        var loss = Normalize(term, active, candidates, options);
        long n = active.sum().item<long>();
        return new TokenLossResult(loss.MoveToOuterDisposeScope(), ce.detach().MoveToOuterDisposeScope(), n);
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

    /// <summary>The SUBS logit: logit[..., maskId] = −∞ (SPEC §1.3). Returns a new tensor. [..., V]</summary>
    public static Tensor SuppressToken(Tensor logits, long maskId)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        if (maskId >= v) throw new ArgumentOutOfRangeException(nameof(maskId), maskId, $"outside the vocabulary of {v}");
        var column = arange(v, device: logits.device).eq(maskId);                                    // [V] bool
        return logits.masked_fill(column, float.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ℓ_i of <see cref="MdlmWeighting"/> on active predictions, 0 elsewhere. p_i = sg(e^{−CE_i}); the time weight is
    /// sanitised to 0 off M first, so t = 0 on an unmasked token cannot produce NaN gradients. [B, L′]
    /// </summary>
    public static Tensor WeightedTerm(Tensor ce, Tensor t, Tensor active, MdlmLossOptions options)
    {
        using var scope = NewDisposeScope();
        var invT = where(active, t.reciprocal(), 0f);                       // 1/t_i on M
        var path = exp(-ce).detach() * ce;                                  // sg(p_i)·CE_i
        var term = options.Weighting switch
        {
            MdlmWeighting.Scheduler => where(active, SchedulerWeight(t, options), 0f) * ce,
            MdlmWeighting.Uniform => ce,
            MdlmWeighting.OpenDllmV1 => invT * (ce + path),
            MdlmWeighting.OpenDllmLatest => ce + invT * path,
            MdlmWeighting.OpenDllmQwen3NoInvT => ce + path,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Weighting, "unknown weighting"),
        };
        return term.MoveToOuterDisposeScope();
    }

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
            LossNormalization.MaskedTokens => term.sum() / (active.sum().to(ScalarType.Float32) + options.MaskedTokensGuard),
            LossNormalization.MaskableTokens => term.sum() / candidates.sum().to(ScalarType.Float32).clamp_min(1),
            LossNormalization.Sequence => (term.sum(1) / candidates.sum(1).to(ScalarType.Float32).clamp_min(1)).sum() / b,
            LossNormalization.Batch => term.sum() / b,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Normalization, "unknown normalisation"),
        };
        return loss.MoveToOuterDisposeScope();
    }

    private static void CheckShapes(Tensor logits, Tensor x0, Tensor masked, Tensor t)
    {
        if (logits.dim() != 3) throw new ArgumentException($"logits must be [B, L, V], got [{string.Join(", ", logits.shape)}]", nameof(logits));
        long[] bl = [logits.shape[0], logits.shape[1]];
        if (!x0.shape.SequenceEqual(bl)) throw new ArgumentException($"x0 must be [{bl[0]}, {bl[1]}], got [{string.Join(", ", x0.shape)}]", nameof(x0));
        if (!masked.shape.SequenceEqual(bl)) throw new ArgumentException($"masked must be [{bl[0]}, {bl[1]}], got [{string.Join(", ", masked.shape)}]", nameof(masked));
        bool tOk = t.shape.SequenceEqual(bl) || (t.dim() == 1 && t.shape[0] == bl[0]);
        if (!tOk) throw new ArgumentException($"t must be [B, L] or [B], got [{string.Join(", ", t.shape)}]", nameof(t));
    }
}
