using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>How <see cref="StateDictIO.Load"/> matches a checkpoint to a module. The default is strict.</summary>
public sealed record StateDictLoadOptions
{
    /// <summary>
    /// Keys skipped on both sides: not read from the checkpoint and not required of the module, e.g.
    /// <c>lm_head.weight</c> of a model whose head is tied to its embedding but whose file still carries it.
    /// </summary>
    public IReadOnlyCollection<string> IgnoredCheckpointKeys { get; init; } = [];

    /// <summary>Accept module keys the checkpoint lacks (they keep their current values).</summary>
    public bool AllowMissing { get; init; }

    /// <summary>Accept checkpoint keys the module lacks (they are not read).</summary>
    public bool AllowUnexpected { get; init; }

    /// <summary>Accept NaN / ±Inf values (by default a tensor holding one is an error naming it).</summary>
    public bool AllowNonFinite { get; init; }
}

/// <summary>What <see cref="StateDictIO.Load"/> did.</summary>
/// <param name="Loaded">Keys copied into the module.</param>
/// <param name="Missing">Module keys absent from the checkpoint (only non-empty with <see cref="StateDictLoadOptions.AllowMissing"/>).</param>
/// <param name="Unexpected">Checkpoint keys the module lacks (only non-empty with <see cref="StateDictLoadOptions.AllowUnexpected"/>).</param>
/// <param name="Ignored">Keys skipped through <see cref="StateDictLoadOptions.IgnoredCheckpointKeys"/> that were present on either side.</param>
public sealed record StateDictLoadReport(
    IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> Ignored);

/// <summary>How <see cref="StateDictIO.Save"/> writes a module.</summary>
public sealed record StateDictSaveOptions
{
    /// <summary>State-dict keys left out of the files (e.g. a tied <c>lm_head.weight</c>).</summary>
    public IReadOnlyCollection<string> OmitKeys { get; init; } = [];

    /// <summary>Element type to store floating-point tensors in (e.g. <c>BFloat16</c>); integer and bool tensors keep theirs.</summary>
    public ScalarType? DType { get; init; }

    /// <summary>
    /// Largest shard in bytes of tensor data. When the total exceeds it, tensors (in state-dict order) are split into
    /// <c>model-0000i-of-0000N.safetensors</c> plus <c>model.safetensors.index.json</c>; a tensor larger than
    /// the limit gets a shard of its own. Null: always one <c>model.safetensors</c>.
    /// </summary>
    public long? MaxShardBytes { get; init; }

    /// <summary>Extra <c>__metadata__</c> entries; <c>"format": "pt"</c> is always written.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}
