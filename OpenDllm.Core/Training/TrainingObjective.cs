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

/// <summary>The loss of one micro-batch, and what the validation estimate needs from it.</summary>
/// <param name="Loss">the training loss (scalar, with grad).</param>
/// <param name="BoundNats">Σ over target tokens of the per-token bound: w(t)·CE at masked targets (MDLM NELBO term) or the
/// next-token CE (AR), in nats (detached, float64).</param>
/// <param name="Tokens">number of tokens the bound covers (every target-eligible token, masked or not).</param>
public sealed record ObjectiveResult(Tensor Loss, double BoundNats, long Tokens);

/// <summary>
/// Turns a packed batch into a loss: for MDLM, t per document / sequence (SPEC §1.5, §2.2) → forward masking →
/// bidirectional forward → the configured MDLM loss (SPEC §2.4); for AR, a causal forward and the next-token loss.
/// The same object gives the validation bound: NELBO = E_t[w(t) Σ_masked CE] / tokens (SPEC §1.2), or the AR NLL.
/// </summary>
public sealed class TrainingObjective
{
    readonly TrainSection _train;
    readonly IMaskSchedule _schedule;
    readonly ITimestepSampler _times;
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

    /// <summary>Loss of one micro-batch. Random draws (t, masks) come from <paramref name="generator"/>.</summary>
    public ObjectiveResult Compute(Qwen2Model model, PackedBatch batch, Generator generator)
    {
        var real = batch.KeyPadding;                                                  // [B, L] true = token
        var documentEnd = DocumentEnds(batch.DocumentIds, real);                      // [B, L]
        if (!IsDiffusion)
        {
            var logits = model.forward(batch.ToModelInput(AttentionPolicy.Causal)).Logits;
            // token j is a target iff it is real and continues the document of j − 1 (Open-dLLM's casual_labels, SPEC §2.2)
            var ids = batch.DocumentIds;
            var continues = ids.narrow(1, 1, ids.shape[1] - 1).eq(ids.narrow(1, 0, ids.shape[1] - 1));
            var targets = cat([zeros(ids.shape[0], 1, dtype: ScalarType.Bool, device: ids.device), continues], 1) & real;
            var ar = AutoregressiveLoss.NextToken(logits, batch.Tokens, targets);
            using var noGrad = no_grad();
            return new ObjectiveResult(ar.Loss, ar.Loss.item<float>() * ar.NumTargets, ar.NumTargets);
        }
        // 1. t per document / sequence                                              [B, L]
        var t = _train.TimeSampling == "per_document"
            ? TimeAssignment.PerDocument(batch.DocumentIds.clamp_min(0), _times, generator)   // padding (id −1) is never masked
            : TimeAssignment.PerSequence(_times, batch.Tokens.shape[0], batch.Tokens.shape[1], generator);
        t = t.to(batch.Tokens.device);
        // 2. mask with probability 1 − α(t) where there are tokens                   [B, L]
        var noisy = ForwardMasking.Apply(batch.Tokens, t, _schedule, _maskId, real, generator);
        // 3. bidirectional forward on x_t, documents kept apart                       [B, L, V]
        var output = model.forward(new ModelInput(noisy.Tokens, AttentionPolicy.Bidirectional, batch.PositionIds, real, batch.DocumentIds));
        // 4. the configured loss, and the ELBO term w(t)·CE at masked targets
        var result = MdlmLoss.Compute(output.Logits, batch.Tokens, noisy.Masked, t, _loss, real, documentEnd);
        using (no_grad())
        {
            var active = LossTargets.Active(noisy.Masked, Shifted, real, documentEnd);
            var tTarget = LossTargets.Targets(t, Shifted);
            var bound = (result.TokenCe.to(ScalarType.Float64) * _schedule.LossWeight(tTarget.to(ScalarType.Float64)))
                        .masked_fill(active.logical_not(), 0).sum().item<double>();
            long tokens = LossTargets.Candidates(t.shape[0], t.shape[1], Shifted, t.device, real, documentEnd).sum().item<long>();
            return new ObjectiveResult(result.Loss, bound, tokens);
        }
    }

    /// <summary>True at the last token of each packed document (its next position belongs to another document or is padding).</summary>
    internal static Tensor DocumentEnds(Tensor documentIds, Tensor real)
    {
        long l = documentIds.shape[1];
        var next = documentIds.narrow(1, 1, l - 1).ne(documentIds.narrow(1, 0, l - 1)) | real.narrow(1, 1, l - 1).logical_not();
        return cat([next, ones(documentIds.shape[0], 1, dtype: ScalarType.Bool, device: documentIds.device)], 1) & real;
    }
}
