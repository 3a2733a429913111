using System.Text.Json.Serialization;

namespace OpenDllm.Methods.DreamOn;

/// <summary>
/// How the probability of merging two adjacent masked middle tokens into one <c>&lt;expand&gt;</c> target is set
/// (<c>train.dreamon.merge_schedule</c>, SPEC §5.7).
/// </summary>
public enum MergeSchedule
{
    /// <summary>
    /// DreamOn's <c>dynamic_inverse</c> (sft_expand_dataset.py): half the examples merge with p = merge_prob·(1 − m/n),
    /// m masked of n middle tokens (fewer merges the more is masked), the other half with the static p = merge_prob.
    /// </summary>
    [JsonStringEnumMemberName("dynamic_inverse")] DynamicInverse,

    /// <summary>Every example merges with p = merge_prob.</summary>
    [JsonStringEnumMemberName("static")] Static,
}

/// <summary>
/// The options of DreamOn variable-length infilling training (<c>train.dreamon</c> in a recipe; SPEC §5.7). Bound strictly
/// (unknown keys fail) and checked by <see cref="Validate"/> with the dotted key named. Defaults are DreamOn's.
/// </summary>
public sealed record DreamOnOptions
{
    /// <summary>Base probability that two adjacent masked middle tokens are merged into one <c>&lt;expand&gt;</c> target (0.5).</summary>
    public double MergeProb { get; init; } = 0.5;

    /// <summary>How <see cref="MergeProb"/> is scaled per example (default <c>dynamic_inverse</c>).</summary>
    public MergeSchedule MergeSchedule { get; init; } = MergeSchedule.DynamicInverse;

    /// <summary>At most this many <c>&lt;delete&gt;</c> targets are appended to a middle: U[0, min(max_delete, room)] (64).</summary>
    public int MaxDelete { get; init; } = 64;

    /// <summary>The middle is 1 to <see cref="MaxMiddleLines"/> whole consecutive lines (DreamOn: random code lines).</summary>
    public int MaxMiddleLines { get; init; } = 3;

    /// <summary>A middle longer than this many tokens is cut to it (the sampler's default length budget is the same 64).</summary>
    public int MaxMiddleTokens { get; init; } = 64;

    /// <summary>
    /// The <c>&lt;expand&gt;</c> id; null (default) = the first embedding row after the tokenizer's vocabulary
    /// (<see cref="DreamOnTokens"/>), so the model needs <c>vocab_size</c> ≥ tokenizer vocabulary + 2.
    /// </summary>
    public int? ExpandTokenId { get; init; }

    /// <summary>The <c>&lt;delete&gt;</c> id; null (default) = the row after <c>&lt;expand&gt;</c>'s default.</summary>
    public int? DeleteTokenId { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad key (prefixed by <paramref name="key"/>).</summary>
    public DreamOnOptions Validate(int sequenceLength, string source = "recipe", string key = "train.dreamon")
    {
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException($"{key}.{name}", value, $"{source}: {key}.{name} = {value ?? "null"} is out of range: {rule}");
        }
        Check(MergeProb is >= 0 and <= 1, "merge_prob", MergeProb, "in [0, 1] (DreamOn: 0.5)");
        Check(Enum.IsDefined(MergeSchedule), "merge_schedule", MergeSchedule, "dynamic_inverse or static");
        Check(MaxDelete >= 0, "max_delete", MaxDelete, "≥ 0 (DreamOn: 64)");
        Check(MaxMiddleLines >= 1, "max_middle_lines", MaxMiddleLines, "≥ 1");
        Check(MaxMiddleTokens >= 1 && MaxMiddleTokens < sequenceLength, "max_middle_tokens", MaxMiddleTokens, $"in [1, data.seq_len = {sequenceLength})");
        Check(ExpandTokenId is null or >= 0, "expand_token_id", ExpandTokenId, "≥ 0");
        Check(DeleteTokenId is null or >= 0, "delete_token_id", DeleteTokenId, "≥ 0");
        Check(ExpandTokenId is null || DeleteTokenId is null || ExpandTokenId != DeleteTokenId, "delete_token_id", DeleteTokenId,
              "must differ from train.dreamon.expand_token_id");
        return this;
    }
}
