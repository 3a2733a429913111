using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>The validation bound of one batch, summed, left on the device until the evaluation ends.</summary>
/// <param name="Nats">[] float64: Σ over target tokens of the per-token bound, w(t)·CE at masked targets (MDLM NELBO
/// term, SPEC §1.2) or the next-token CE (AR), in nats.</param>
/// <param name="Tokens">[] long: number of tokens the bound covers (every target-eligible token, masked or not).</param>
public sealed record BoundTerms(Tensor Nats, Tensor Tokens);

/// <summary>
/// Turns a packed batch into a loss: for MDLM, t per document / sequence from the training sampler (SPEC §1.5, §2.2) →
/// forward masking → bidirectional forward → the configured MDLM loss (SPEC §2.4), the LM head applied in chunks at the
/// active predictions only; for AR, a causal forward and the next-token loss. The same object gives the validation bound:
/// NELBO = E_{t~U(ε,1)}[w(t) Σ_masked CE] / tokens (SPEC §1.2, whatever the training sampler), or the AR NLL.
/// </summary>
public sealed class TrainingObjective
{
    /// <summary>ε of the validation NELBO's t ~ U(ε, 1) (MDLM's default, SPEC §1.2).</summary>
    public const double ValidationEpsilon = UniformTimestepSampler.DefaultEpsilon;

    readonly TrainSection _train;
    readonly IMaskSchedule _schedule;
    readonly ITimestepSampler _times;
    readonly ITimestepSampler _validationTimes = new UniformTimestepSampler(ValidationEpsilon);
    readonly MdlmLossOptions _loss;
    readonly long _maskId;

    public TrainingObjective(TrainSection train, long maskId, bool shifted)
    {
        _train = train;
        _maskId = maskId;
        Shifted = shifted;
        _schedule = MaskSchedules.Create(train.Schedule);
        _times = train.TimeSampling == "antithetic" ? new AntitheticTimestepSampler()
               : train.TimeSampling == "per_document" ? ClampedUniformTimestepSampler.OpenDllm : new UniformTimestepSampler();
        _loss = new MdlmLossOptions
        {
            Weighting = train.Loss switch
            {
                "mdlm" => MdlmWeighting.Scheduler, "uniform" => MdlmWeighting.Uniform, "opendllm_v1" => MdlmWeighting.OpenDllmV1,
                "opendllm_latest" => MdlmWeighting.OpenDllmLatest, _ => MdlmWeighting.OpenDllmQwen3NoInvT,
            },
            Schedule = _schedule,
            Normalization = train.Normalization switch
            {
                "masked_tokens" => LossNormalization.MaskedTokens, "maskable_tokens" => LossNormalization.MaskableTokens,
                "sequence" => LossNormalization.Sequence, "batch" => LossNormalization.Batch,
                _ => throw new ArgumentOutOfRangeException("train.normalization", train.Normalization,
                        "one of: masked_tokens, maskable_tokens, sequence, batch"),
            },
            ShiftLogits = shifted,
            MaskTokenId = maskId,
        };
    }

    public bool Shifted { get; }
    public bool IsDiffusion => _train.Objective == "mdlm";

    /// <summary>
    /// The training loss of one micro-batch (scalar, with grad). Random draws (t, masks) come from
    /// <paramref name="generator"/>. Reads nothing back from the device except what sizing the head's row selection needs.
    /// </summary>
    public Tensor Loss(Qwen2Model model, PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var real = batch.KeyPadding;                                                  // [B, L] true = token
        if (!IsDiffusion)
        {
            var head = model.ForwardToHead(batch.ToModelInput(AttentionPolicy.Causal));
            return AutoregressiveLoss.NextToken(head, batch.Tokens, ArTargets(batch)).Loss.MoveToOuterDisposeScope();
        }
        // 1. t from the training sampler                                             [B, L]
        var t = TrainingTimes(batch, generator);
        // 2.–3. x_t and the bidirectional forward up to the head                     [B, L], [B, L, D]
        var (noisy, hidden) = NoisyForward(model, batch, t, generator);
        // 4. the configured loss, the head applied in chunks at the active predictions
        return MdlmLoss.Compute(hidden, batch.Tokens, noisy.Masked, t, _loss, real, DocumentEnds(batch.DocumentIds, real))
                       .Loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The validation bound of one batch (SPEC §1.2): for MDLM, t ~ U(ε, 1) (<see cref="ValidationTimes"/>), x_t, and
    /// Σ_{masked targets} w(t)·CE (SUBS) over the target-eligible tokens; for AR, Σ next-token CE. Nothing is read back.
    /// </summary>
    public BoundTerms Bound(Qwen2Model model, PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var real = batch.KeyPadding;
        if (!IsDiffusion)
        {
            var head = model.ForwardToHead(batch.ToModelInput(AttentionPolicy.Causal));
            var ar = AutoregressiveLoss.NextToken(head, batch.Tokens, ArTargets(batch));
            return Moved(new BoundTerms(ar.TokenCe.to(ScalarType.Float64).sum(), ar.TargetCount));
        }
        var t = ValidationTimes(batch, generator);
        var (noisy, hidden) = NoisyForward(model, batch, t, generator);
        var documentEnd = DocumentEnds(batch.DocumentIds, real);
        var active = LossTargets.Active(noisy.Masked, Shifted, real, documentEnd);                          // [B, L′]
        var candidates = LossTargets.Candidates(t.shape[0], t.shape[1], Shifted, t.device, real, documentEnd);
        var ce = MdlmLoss.SelectedCrossEntropy(hidden, batch.Tokens, active, Shifted, _maskId);           // [B, L′]
        return Moved(NelboTerms(ce, LossTargets.Targets(t, Shifted), active, candidates, _schedule));
    }

    /// <summary>
    /// One batch's NELBO terms (SPEC §1.2): Σ_{i ∈ M} w(t_i)·CE_i in float64 nats, and the number of candidate targets.
    /// <paramref name="tokenCe"/>, <paramref name="t"/>, <paramref name="active"/> (M) and <paramref name="candidates"/> are
    /// [B, L′] on the prediction grid (<see cref="LossTargets"/>); w is the schedule's −α′(t)/(1 − α(t)).
    /// </summary>
    public static BoundTerms NelboTerms(Tensor tokenCe, Tensor t, Tensor active, Tensor candidates, IMaskSchedule schedule)
    {
        using var scope = NewDisposeScope();
        var w = where(active, schedule.LossWeight(t.to(ScalarType.Float64)), 0.0);                      // w(t_i) on M, 0 off M
        var nats = (tokenCe.to(ScalarType.Float64) * w).sum();
        return Moved(new BoundTerms(nats, candidates.sum()));
    }

    /// <summary>Training times [B, L]: the recipe's sampler, one draw per document (per_document) or per sequence.</summary>
    public Tensor TrainingTimes(PackedBatch batch, Generator generator) => Times(batch, _times, generator);

    /// <summary>
    /// Validation times [B, L]: t ~ U(ε, 1), ε = <see cref="ValidationEpsilon"/>, with the training's granularity (per document
    /// or per sequence) but never its sampler, so <c>val_nelbo_bits</c> is the NELBO MDLM papers report.
    /// </summary>
    public Tensor ValidationTimes(PackedBatch batch, Generator generator) => Times(batch, _validationTimes, generator);

    Tensor Times(PackedBatch batch, ITimestepSampler sampler, Generator generator)
    {
        var t = _train.TimeSampling == "per_document"
            ? TimeAssignment.PerDocument(batch.DocumentIds.clamp_min(0), sampler, generator)   // padding (id −1) is never masked
            : TimeAssignment.PerSequence(sampler, batch.Tokens.shape[0], batch.Tokens.shape[1], generator);
        return t.to(batch.Tokens.device);
    }

    /// <summary>x_t (mask with probability 1 − α(t) where there are tokens) and the bidirectional forward up to the head.</summary>
    (MaskedBatch Noisy, HeadInput Hidden) NoisyForward(Qwen2Model model, PackedBatch batch, Tensor t, Generator generator)
    {
        var noisy = ForwardMasking.Apply(batch.Tokens, t, _schedule, _maskId, batch.KeyPadding, generator);
        // documents kept apart; no mask at all when the loader saw no padding and no boundary
        var input = batch.ToModelInput(AttentionPolicy.Bidirectional) with { Tokens = noisy.Tokens };
        return (noisy, model.ForwardToHead(input));
    }

    /// <summary>Token j is an AR target iff it is real and continues the document of j − 1 (Open-dLLM's casual_labels, SPEC §2.2).</summary>
    static Tensor ArTargets(PackedBatch batch)
    {
        var ids = batch.DocumentIds;
        var continues = ids.narrow(1, 1, ids.shape[1] - 1).eq(ids.narrow(1, 0, ids.shape[1] - 1));
        return cat([zeros(ids.shape[0], 1, dtype: ScalarType.Bool, device: ids.device), continues], 1) & batch.KeyPadding;
    }

    static BoundTerms Moved(BoundTerms terms)
    {
        terms.Nats.MoveToOuterDisposeScope();
        terms.Tokens.MoveToOuterDisposeScope();
        return terms;
    }

    /// <summary>True at the last token of each packed document (its next position belongs to another document or is padding).</summary>
    internal static Tensor DocumentEnds(Tensor documentIds, Tensor real)
    {
        long l = documentIds.shape[1];
        var next = documentIds.narrow(1, 1, l - 1).ne(documentIds.narrow(1, 0, l - 1)) | real.narrow(1, 1, l - 1).logical_not();
        return cat([next, ones(documentIds.shape[0], 1, dtype: ScalarType.Bool, device: documentIds.device)], 1) & real;
    }
}
