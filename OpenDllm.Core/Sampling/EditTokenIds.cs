namespace OpenDllm.Sampling;

/// <summary>
/// The two edit ids a variable-length sampler reads (SPEC §5.7): a masked position predicted as <see cref="Expand"/>
/// becomes two masks, one predicted as <see cref="Delete"/> goes away. Where they come from (a DreamOn checkpoint's
/// recipe and tokenizer) is the training side's business (its DreamOn token record converts to this),
/// so sampling never depends on training code.
/// </summary>
public sealed record EditTokenIds(long Expand, long Delete)
{
    /// <summary>How DreamOn names the expand token in logs and docs.</summary>
    public const string ExpandName = "<expand>";
    /// <summary>How DreamOn names the delete token in logs and docs.</summary>
    public const string DeleteName = "<delete>";
}
