using System.Text.Json.Serialization;
using OpenDllm.Schedules;

namespace OpenDllm.Objectives;

/// <summary>
/// The per-token weighting of the masked-token cross entropy (SPEC §1.2, §2.4). With p_i = sg(e^{−CE_i}), the detached
/// probability of the right token, each active prediction contributes:
/// <list type="bullet">
/// <item><see cref="Scheduler"/>: w(t_i)·CE_i, w(t) = −α′(t)/(1 − α(t)) of the schedule (1/t for linear) — MDLM/LLaDA/dllm "scheduler".</item>
/// <item><see cref="Uniform"/>: CE_i — dllm "uniform".</item>
/// <item><see cref="OpenDllmV1"/>: (1/t_i)·(CE_i + p_i·CE_i) — Open-dLLM v1.0 (the released open-dcoder-0.5B).</item>
/// <item><see cref="OpenDllmLatest"/>: CE_i + (1/t_i)·p_i·CE_i — Open-dLLM HEAD, Qwen2.</item>
/// <item><see cref="OpenDllmQwen3NoInvT"/>: CE_i + p_i·CE_i — Open-dLLM HEAD, Qwen3 (repr-align paper model).</item>
/// </list>
/// The Open-dLLM variants always use 1/t, whatever <see cref="MdlmLossOptions.Schedule"/> is.
/// </summary>
/// Recipes spell them <c>mdlm</c>, <c>uniform</c>, <c>opendllm_v1</c>, <c>opendllm_latest</c> and <c>opendllm_qwen3</c> (<c>train.loss</c>).
public enum MdlmWeighting
{
    [JsonStringEnumMemberName("mdlm")] Scheduler,
    [JsonStringEnumMemberName("uniform")] Uniform,
    [JsonStringEnumMemberName("opendllm_v1")] OpenDllmV1,
    [JsonStringEnumMemberName("opendllm_latest")] OpenDllmLatest,
    [JsonStringEnumMemberName("opendllm_qwen3")] OpenDllmQwen3NoInvT,
}

/// <summary>
/// Open-dLLM's second ("path") term of the MDM loss (SPEC §2.4), added to any base <see cref="MdlmWeighting"/>: with
/// p_i = sg(e^{−CE_i}), the detached probability of the right token, each active prediction adds
/// <list type="bullet">
/// <item><see cref="None"/>: nothing (default).</item>
/// <item><see cref="InvT"/>: (1/t_i)·p_i·CE_i (Open-dLLM HEAD, Qwen2).</item>
/// <item><see cref="Plain"/>: p_i·CE_i (Open-dLLM HEAD, Qwen3, the representation-alignment paper's model).</item>
/// </list>
/// The sum is divided by the same <see cref="LossNormalization"/> as the base term (Open-dLLM: the masked count N_M).
/// <c>opendllm_latest</c> is <c>uniform</c> + <see cref="InvT"/> and <c>opendllm_qwen3</c> is <c>uniform</c> + <see cref="Plain"/>
/// (computed through this option); <c>opendllm_v1</c>, (1/t)·(CE + p·CE), already contains it. Recipes:
/// <c>train.path_loss: none | inv_t | plain</c>.
/// </summary>
public enum PathLoss
{
    [JsonStringEnumMemberName("none")] None,
    [JsonStringEnumMemberName("inv_t")] InvT,
    [JsonStringEnumMemberName("plain")] Plain,
}

/// <summary>
/// What the summed weighted loss is divided by (SPEC §2.4, §2.7):
/// <list type="bullet">
/// <item><see cref="MaskedTokens"/>: N_M + guard (Open-dLLM, guard 1e-8) — N_M = 0 gives 0, not NaN.</item>
/// <item><see cref="MaskableTokens"/>: max(#candidate predictions, 1) (dllm "token"; all target positions when nothing is
/// marked unmaskable — the reference's <c>normalize="tokens"</c>).</item>
/// <item><see cref="Sequence"/>: per sequence, its sum over max(its candidates, 1), then the mean over the batch (dllm "sequence").</item>
/// <item><see cref="Batch"/>: B (dllm "batch").</item>
/// </list>
/// Recipes spell them in snake case (<c>train.normalization: masked_tokens</c>).
/// </summary>
public enum LossNormalization { MaskedTokens, MaskableTokens, Sequence, Batch }

/// <summary>Options of <see cref="MdlmLoss"/>; the defaults are the textbook MDLM loss (1/t, ÷ N_M, unshifted).</summary>
public sealed record MdlmLossOptions
{
    public MdlmWeighting Weighting { get; init; } = MdlmWeighting.Scheduler;

    /// <summary>The schedule whose w(t) <see cref="MdlmWeighting.Scheduler"/> uses; null means linear, w(t) = 1/t.</summary>
    public IMaskSchedule? Schedule { get; init; }

    public LossNormalization Normalization { get; init; } = LossNormalization.MaskedTokens;

    /// <summary>Open-dLLM's path term added to <see cref="Weighting"/> (SPEC §2.4); only with <c>mdlm</c> or <c>uniform</c>,
    /// since the Open-dLLM weightings already contain it.</summary>
    public PathLoss Path { get; init; } = PathLoss.None;

    /// <summary>True for the weightings that already contain the path term (the Open-dLLM ones).</summary>
    public static bool ContainsPathTerm(MdlmWeighting weighting) =>
        weighting is MdlmWeighting.OpenDllmV1 or MdlmWeighting.OpenDllmLatest or MdlmWeighting.OpenDllmQwen3NoInvT;

    /// <summary>Dream-style shift: the output at position i predicts token i + 1 (SPEC §2.3).</summary>
    public bool ShiftLogits { get; init; }

    /// <summary>When set, the [MASK] logit is set to −∞ before the log-softmax (SUBS, SPEC §1.3).</summary>
    public long? MaskTokenId { get; init; }

    /// <summary>The guard added to N_M under <see cref="LossNormalization.MaskedTokens"/> (Open-dLLM: 1e-8).</summary>
    public double MaskedTokensGuard { get; init; } = 1e-8;

    /// <summary>Open-dLLM v1.0 as released: shifted, v1 weighting, ÷ (N_M + 1e-8).</summary>
    public static MdlmLossOptions OpenDllmRelease { get; } = new() { Weighting = MdlmWeighting.OpenDllmV1, ShiftLogits = true };

    /// <summary>dllm's MDLMTrainer defaults: scheduler weight, ÷ #maskable tokens, unshifted.</summary>
    public static MdlmLossOptions Dllm { get; } = new() { Normalization = LossNormalization.MaskableTokens };

    public void Validate()
    {
        if (!Enum.IsDefined(Weighting)) throw new ArgumentOutOfRangeException(nameof(Weighting), Weighting, "unknown weighting");
        if (!Enum.IsDefined(Path)) throw new ArgumentOutOfRangeException(nameof(Path), Path, "unknown path loss");
        if (Path != PathLoss.None && ContainsPathTerm(Weighting))
            throw new ArgumentException($"path loss {Path} on top of weighting {Weighting}, which already contains the path term: "
                + "it would be counted twice (train.loss and train.path_loss); use the mdlm or uniform weighting with it", nameof(Path));
        if (!Enum.IsDefined(Normalization)) throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization, "unknown normalisation");
        if (!(MaskedTokensGuard > 0) || double.IsInfinity(MaskedTokensGuard))
            throw new ArgumentOutOfRangeException(nameof(MaskedTokensGuard), MaskedTokensGuard, "must be finite and > 0 (0 masked ⇒ 0/0)");
        if (MaskTokenId is < 0) throw new ArgumentOutOfRangeException(nameof(MaskTokenId), MaskTokenId, "must be a vocabulary id");
    }
}
