using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Bd3lm;

/// <summary>
/// Block diffusion (BD3LM; Arriola et al., "Block Diffusion", <see href="https://arxiv.org/abs/2503.09573"/>; SPEC §4).
/// One step:
/// <list type="number">
/// <item>layout: the loader's rows as they are (<c>data.packing: chunks</c>, bd3lms' concatenated chunks), or with every
/// document block-aligned and EOS-padded (<c>documents</c>, <see cref="EosBlockPadding"/>; the document mask then joins
/// the block mask);</item>
/// <item>times: one t per block of b tokens, antithetic across the batch's B·L/b blocks (bd3lms), or one per sequence
/// (dllm), on the noise interval [β, ω] (<see cref="NoiseIntervalSampler"/>);</item>
/// <item>x_t: each target token masked with probability 1 − α(t_block) (SPEC §1.1); BOS (when the tokenizer has one) and
/// key padding never;</item>
/// <item>forward of <c>concat(x_t, x_0)</c> [B, 2L] with shared positions and the §4.1 mask (<see cref="BlockLayout.ConcatInput"/>),
/// up to the head; only the x_t half [B, :L] is scored;</item>
/// <item>loss (SPEC §4.2): Σ_{masked} w(t)·CE (SUBS: [MASK] logit −∞) / #target tokens, with w(t) = −α′(t)/(1 − α(t)) of
/// <c>train.schedule</c> (1/t for linear), and w := 1 when β &gt; 0.5 (bd3lms, where 1/t no longer matters); the head runs in
/// chunks at the masked rows only (<see cref="MdlmLoss"/>), so no [B, 2L, V] logits exist.</item>
/// </list>
/// The validation bound (<c>val_nelbo_bits</c>) is the BD3LM NELBO of SPEC §4.2 with t per block, antithetic on [10⁻³, 1]
/// whatever the training interval, Σ w(t)·CE over masked targets (EOS pads included) divided by the number of the loader's
/// tokens it covers, from the validation seed (<see cref="HeldOutEvaluation"/>).
/// <para>
/// The variance-minimising interval search of SPEC §4.2 is <see cref="NoiseIntervalSearch"/>, run on demand (C# API); the
/// trainer does not switch intervals during a run as bd3lms does (the interval is <c>train.bd3lm.noise_interval</c>), and
/// bd3lms' <c>training.resample</c> (redraw blocks whose realised mask fraction falls outside [β, ω]) is not implemented.
/// <c>train.loss</c>, <c>train.normalization</c> and <c>train.time_sampling</c> are MDLM's options and do not apply here;
/// BD3LM's are under <c>train.bd3lm</c>.
/// </para>
/// </summary>
public sealed class Bd3lmMethod : ITrainingMethod
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "bd3lm";

    /// <summary>ε of the validation times t ~ U(ε, 1) (bd3lms: the only interval that gives a valid ELBO, SPEC §4.2).</summary>
    public const double ValidationEpsilon = 1e-3;

    readonly IMaskSchedule _schedule;
    readonly NoiseIntervalSampler _times;
    readonly NoiseIntervalSampler _validationTimes = new(ValidationEpsilon, 1.0, antithetic: true);
    readonly MdlmLossOptions _loss;
    readonly bool _alignDocuments;
    readonly long _eosId;
    readonly long? _bosId;

    public Bd3lmMethod(TrainingMethodContext context)
    {
        var recipe = context.Recipe;
        Options = recipe.Train.Bd3lm.Validate(recipe.Data.SeqLen);
        if (context.Shifted)
            throw new ArgumentException("model.shifted_logits = true: BD3LM trains unshifted logits (a block predicts its own tokens); "
                + "set model.shifted_logits: false (init_from defaults to true)");
        Model = context.Model;
        MaskId = context.MaskId;
        _eosId = context.Tokenizer.Special.Eos;
        _bosId = context.Tokenizer.Special.Bos;
        _alignDocuments = Options.EosBlockPadding && recipe.Data.PackingMode == PackingMode.Documents;
        _schedule = MaskSchedules.Create(recipe.Train.Schedule);
        _times = new NoiseIntervalSampler(Options.Beta, Options.Omega, Options.TimeSampling == Bd3lmTimeSampling.PerBlockAntithetic);
        _loss = new MdlmLossOptions
        {
            Weighting = Options.Beta > 0.5 ? MdlmWeighting.Uniform : MdlmWeighting.Scheduler,
            Normalization = LossNormalization.MaskableTokens, Schedule = _schedule, ShiftLogits = false, MaskTokenId = MaskId,
        };
        _loss.Validate();
    }

    public string Name => MethodName;
    public LanguageModel Model { get; }
    /// <summary>At inference a BD3LM model decodes block by block over a cache of clean blocks: block-causal attention.</summary>
    public AttentionPolicy Attention => AttentionPolicy.BlockCausal(Options.BlockSize);
    public string BoundMetric => "val_nelbo_bits";
    public Bd3lmOptions Options { get; }
    public long MaskId { get; }

    /// <summary>The training loss of one micro-batch (scalar, with grad); t and masks from <paramref name="generator"/>.</summary>
    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var layout = Layout(batch);
        var t = TrainingTimes(layout, generator);                                                    // [B, L]
        var (noisy, head, targets) = NoisyForward(layout, t, generator);
        var loss = MdlmLoss.Compute(head, layout.Tokens, noisy.Masked, t, _loss, targets).Loss;
        return new MethodLoss(loss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The validation bound of one batch (SPEC §4.2): per-block antithetic t on [10⁻³, 1], x_t, Σ_{masked} w(t)·CE in nats
    /// over all targets, and the number of the loader's tokens kept in the layout. Nothing is read back.
    /// </summary>
    public BoundTerms Bound(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var layout = Layout(batch);
        var t = ValidationTimes(layout, generator);
        var (noisy, head, targets) = NoisyForward(layout, t, generator);
        var active = noisy.Masked & targets;                                                           // [B, L]
        var ce = MdlmLoss.SelectedCrossEntropy(head, layout.Tokens, active, shift: false, MaskId);    // [B, L]
        var nats = MdlmMethod.NelboTerms(ce, t, active, targets, _schedule).Nats;
        var covered = (layout.Original & targets).sum();
        return new BoundTerms(nats, covered).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per-block loss terms [B, L/b] of one batch with times from <paramref name="sampler"/> (one t per block):
    /// ℓ_blk = Σ_{i ∈ blk, masked} w(t_blk)·CE_i / b, the quantity whose variance <see cref="NoiseIntervalSearch"/> compares
    /// across candidate intervals (SPEC §4.2). Nothing is read back.
    /// </summary>
    public Tensor BlockTerms(PackedBatch batch, NoiseIntervalSampler sampler, Generator generator)
    {
        using var scope = NewDisposeScope();
        var layout = Layout(batch);
        var t = Times(layout, sampler, Bd3lmTimeSampling.PerBlockAntithetic, generator);
        var (noisy, head, targets) = NoisyForward(layout, t, generator);
        var active = noisy.Masked & targets;
        var ce = MdlmLoss.SelectedCrossEntropy(head, layout.Tokens, active, shift: false, MaskId).to(ScalarType.Float64);   // [B, L]
        var w = where(active, _schedule.LossWeight(t.to(ScalarType.Float64)), 0.0);
        long rows = ce.shape[0], blocks = ce.shape[1] / Options.BlockSize;
        return ((ce * w).view(rows, blocks, Options.BlockSize).sum(2) / Options.BlockSize).MoveToOuterDisposeScope();
    }

    /// <summary>The rows this step trains on: block-aligned with EOS pads (documents packing) or as loaded.</summary>
    public BlockLayout Layout(PackedBatch batch) =>
        _alignDocuments ? EosBlockPadding.Apply(batch, Options.BlockSize, _eosId) : BlockLayout.Unpadded(batch);

    /// <summary>Training times [B, L]: <c>train.bd3lm.time_sampling</c> on <c>train.bd3lm.noise_interval</c>.</summary>
    public Tensor TrainingTimes(BlockLayout layout, Generator generator) => Times(layout, _times, Options.TimeSampling, generator);

    /// <summary>Validation times [B, L]: one per block, antithetic on [10⁻³, 1], whatever training uses.</summary>
    public Tensor ValidationTimes(BlockLayout layout, Generator generator) =>
        Times(layout, _validationTimes, Bd3lmTimeSampling.PerBlockAntithetic, generator);

    /// <summary>Times [B, L] on the layout's device: one per block (stratified across all blocks) or one per row.</summary>
    Tensor Times(BlockLayout layout, NoiseIntervalSampler sampler, Bd3lmTimeSampling mode, Generator generator)
    {
        long rows = layout.Tokens.shape[0], length = layout.Tokens.shape[1];
        var t = mode == Bd3lmTimeSampling.PerBlockAntithetic
            ? TimeAssignment.PerBlock(sampler, rows, length, Options.BlockSize, generator)
            : TimeAssignment.PerSequence(sampler, rows, length, generator);
        return t.to(layout.Tokens.device);
    }

    /// <summary>Target tokens [B, L]: key padding and BOS are never masked nor scored.</summary>
    public Tensor Targets(BlockLayout layout) => Targets(layout, _bosId);

    /// <summary>Target tokens [B, L] of <paramref name="layout"/>: real tokens other than <paramref name="bosId"/>.</summary>
    public static Tensor Targets(BlockLayout layout, long? bosId) =>
        bosId is long bos ? layout.KeyPadding & layout.Tokens.ne(bos) : layout.KeyPadding;

    /// <summary>x_t of the layout, and the 2L forward up to the head narrowed to the x_t half [B, L, D].</summary>
    (MaskedBatch Noisy, HeadInput Head, Tensor Targets) NoisyForward(BlockLayout layout, Tensor t, Generator generator)
    {
        var targets = Targets(layout);
        var noisy = ForwardMasking.Apply(layout.Tokens, t, _schedule, MaskId, targets, generator);
        var head = Model.ForwardToHead(layout.ConcatInput(noisy.Tokens, Options.BlockSize));           // hidden [B, 2L, D]
        long length = layout.Tokens.shape[1];
        return (noisy, head with { Hidden = head.Hidden.narrow(1, 0, length) }, targets);            // the x_t half only
    }
}
