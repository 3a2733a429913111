using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Mdlm;

/// <summary>
/// Masked diffusion (MDLM, Open-dLLM's variants): t per document or per sequence from the recipe's sampler (SPEC §1.5,
/// §2.2) → forward masking x_t → bidirectional forward → the configured MDLM loss (SPEC §2.4), the LM head applied in
/// chunks at the active predictions only. The validation bound is the NELBO
/// E_{t~U(ε,1)}[Σ_{masked} w(t)·CE] / tokens (SPEC §1.2) whatever sampler training uses, so it is comparable with
/// published MDLM numbers.
/// <para>Supervised fine-tuning (SFT) is this method on prompt/response data (<c>data.source: sft</c>,
/// <c>data.packing: examples</c>), as dllm's MDLM trainer does it (SPEC §2.7): the batch marks the prompt
/// (<see cref="PackedBatch.Prompt"/>), which is never masked and never scored; t is drawn per example; the response,
/// its EOS and the EOS padding after it are masked with probability 1 − α(t) and scored with the configured weighting
/// (w(t)·CE, 1/t for the linear schedule), SUBS; the bound is the NELBO over response tokens.</para>
/// </summary>
public sealed class MdlmMethod : ITrainingMethod
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "mdlm";

    /// <summary>ε of the validation NELBO's t ~ U(ε, 1) (MDLM's default, SPEC §1.2).</summary>
    public const double ValidationEpsilon = UniformTimestepSampler.DefaultEpsilon;

    readonly TimeSamplingMode _granularity;
    readonly IMaskSchedule _schedule;
    readonly ITimestepSampler _times;
    readonly ITimestepSampler _validationTimes = new UniformTimestepSampler(ValidationEpsilon);
    readonly MdlmLossOptions _loss;

    public MdlmMethod(TrainingMethodContext context)
    {
        var train = context.Recipe.Train;
        Model = context.Model;
        MaskId = context.MaskId;
        Shifted = context.Shifted;
        _granularity = train.TimeSampling;
        _schedule = MaskSchedules.Create(train.Schedule);
        _times = train.TimeSampling.Sampler();
        _loss = new MdlmLossOptions
        {
            Weighting = train.Loss, Path = train.PathLoss, Normalization = train.Normalization, Schedule = _schedule,
            ShiftLogits = Shifted, MaskTokenId = MaskId,
        };
        _loss.Validate();
    }

    public string Name => MethodName;
    public LanguageModel Model { get; }
    public AttentionPolicy Attention => AttentionPolicy.Bidirectional;
    public string BoundMetric => "val_nelbo_bits";
    public long MaskId { get; }
    public bool Shifted { get; }

    /// <summary>The training loss of one micro-batch (scalar, with grad); random draws (t, masks) from <paramref name="generator"/>.</summary>
    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var forward = TrainingForward(batch, generator);
        return new MethodLoss(TrainingLoss(batch, forward).Loss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Steps 1–3 of <see cref="Loss"/>: t from the training sampler [B, L], x_t, and the bidirectional forward up to the head
    /// (with the HF hidden states of the same forward when <paramref name="hiddenStates"/>; SPEC §3). Methods built on MDLM
    /// (e.g. AR → diffusion adaptation) call this and <see cref="TrainingLoss"/> so they draw and score exactly as MDLM does.
    /// </summary>
    public MaskedForward TrainingForward(PackedBatch batch, Generator generator, bool hiddenStates = false)
    {
        var t = TrainingTimes(batch, generator);
        var (noisy, head) = NoisyForward(batch, t, generator, hiddenStates);
        return new MaskedForward(t, noisy, head);
    }

    /// <summary>Step 4 of <see cref="Loss"/>: the configured loss over the maskable tokens, the head applied in chunks at the active predictions.</summary>
    public TokenLossResult TrainingLoss(PackedBatch batch, MaskedForward forward) =>
        MdlmLoss.Compute(forward.Head, batch.Tokens, forward.Noisy.Masked, forward.T, _loss, Maskable(batch), DocumentEnds.Of(batch.DocumentIds, batch.KeyPadding));

    /// <summary>The active predictions [B, L′] bool of a training forward: the positions <see cref="TrainingLoss"/> scores (SPEC §2.3).</summary>
    public Tensor ActivePredictions(PackedBatch batch, MaskedForward forward) =>
        LossTargets.Active(forward.Noisy.Masked, Shifted, Maskable(batch), DocumentEnds.Of(batch.DocumentIds, batch.KeyPadding));

    /// <summary>
    /// The validation bound of one batch (SPEC §1.2): t ~ U(ε, 1) (<see cref="ValidationTimes"/>), x_t, and
    /// Σ_{masked targets} w(t)·CE (SUBS) over the target-eligible tokens. Nothing is read back.
    /// </summary>
    public BoundTerms Bound(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var real = batch.KeyPadding;
        var t = ValidationTimes(batch, generator);
        var (noisy, hidden) = NoisyForward(batch, t, generator);
        var documentEnd = DocumentEnds.Of(batch.DocumentIds, real);
        var maskable = Maskable(batch);
        var active = LossTargets.Active(noisy.Masked, Shifted, maskable, documentEnd);                      // [B, L′]
        var candidates = LossTargets.Candidates(t.shape[0], t.shape[1], Shifted, t.device, maskable, documentEnd);
        var ce = MdlmLoss.SelectedCrossEntropy(hidden, batch.Tokens, active, Shifted, MaskId);            // [B, L′]
        return NelboTerms(ce, LossTargets.Targets(t, Shifted), active, candidates, _schedule).MoveToOuterDisposeScope();
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
        return new BoundTerms(nats, candidates.sum()).MoveToOuterDisposeScope();
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
        var t = _granularity == TimeSamplingMode.PerDocument
            ? TimeAssignment.PerDocument(batch.DocumentIds.clamp_min(0), sampler, generator)   // padding (id −1) is never masked
            : TimeAssignment.PerSequence(sampler, batch.Tokens.shape[0], batch.Tokens.shape[1], generator);
        return t.to(batch.Tokens.device);
    }

    /// <summary>
    /// The tokens that may be masked and scored [B, L] bool: real tokens (key padding true), less the prompt when the batch
    /// has one (SFT: the prompt is context, never a target; SPEC §2.7).
    /// </summary>
    public static Tensor Maskable(PackedBatch batch) =>
        batch.Prompt is { } prompt ? batch.KeyPadding.logical_and(prompt.logical_not()) : batch.KeyPadding;

    /// <summary>x_t (mask with probability 1 − α(t) where a token is maskable) and the bidirectional forward up to the head.</summary>
    (MaskedBatch Noisy, HeadInput Hidden) NoisyForward(PackedBatch batch, Tensor t, Generator generator, bool hiddenStates = false)
    {
        var noisy = ForwardMasking.Apply(batch.Tokens, t, _schedule, MaskId, Maskable(batch), generator);
        // documents kept apart; no mask at all when the loader saw no padding and no boundary
        var input = batch.ToModelInput(AttentionPolicy.Bidirectional) with { Tokens = noisy.Tokens, ReturnHiddenStates = hiddenStates };
        return (noisy, Model.ForwardToHead(input));
    }
}

/// <summary>One MDLM training forward: the times t [B, L], x_t and its mask, and the bidirectional forward up to the head.</summary>
public sealed record MaskedForward(Tensor T, MaskedBatch Noisy, HeadInput Head);
