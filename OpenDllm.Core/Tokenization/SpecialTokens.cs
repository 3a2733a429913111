namespace OpenDllm.Tokenization;

/// <summary>
/// The ids of the special tokens a diffusion language model needs. Every id is a row of the
/// embedding matrix, so each is below <see cref="ITokenizer.VocabSize"/>.
/// </summary>
/// <remarks>
/// <see cref="Mask"/> is the absorbing "[MASK]" state of masked diffusion (SPEC §2.1); it is always present,
/// added by the tokenizer when the source vocabulary lacks one. <see cref="Eos"/> is appended to every
/// training document (SPEC §2.1: <c>tokenize(text) + [EOS]</c>, no BOS). <see cref="Pad"/> may equal
/// <see cref="Eos"/> (it does for Qwen). The FIM ids are present only for tokenizers that have them.
/// </remarks>
public sealed record SpecialTokens
{
    /// <summary>The mask token id (absorbing state of masked diffusion).</summary>
    public required int Mask { get; init; }

    /// <summary>The end-of-sequence id appended after every document.</summary>
    public required int Eos { get; init; }

    /// <summary>The padding id; may be the same as <see cref="Eos"/>.</summary>
    public required int Pad { get; init; }

    /// <summary>The beginning-of-sequence id, if the tokenizer has one (Qwen has none).</summary>
    public int? Bos { get; init; }

    /// <summary>The fill-in-the-middle prefix marker (<c>&lt;|fim_prefix|&gt;</c>), if any.</summary>
    public int? FimPrefix { get; init; }

    /// <summary>The fill-in-the-middle middle marker (<c>&lt;|fim_middle|&gt;</c>), if any.</summary>
    public int? FimMiddle { get; init; }

    /// <summary>The fill-in-the-middle suffix marker (<c>&lt;|fim_suffix|&gt;</c>), if any.</summary>
    public int? FimSuffix { get; init; }

    /// <summary>True when all three FIM markers are present.</summary>
    public bool HasFim => FimPrefix.HasValue && FimMiddle.HasValue && FimSuffix.HasValue;

    /// <summary>Every id that is set, named, in a fixed order (Mask, Eos, Pad, Bos, FimPrefix, FimMiddle, FimSuffix).</summary>
    public IEnumerable<(string Name, int Id)> All()
    {
        yield return (nameof(Mask), Mask);
        yield return (nameof(Eos), Eos);
        yield return (nameof(Pad), Pad);
        if (Bos is int bos) yield return (nameof(Bos), bos);
        if (FimPrefix is int p) yield return (nameof(FimPrefix), p);
        if (FimMiddle is int m) yield return (nameof(FimMiddle), m);
        if (FimSuffix is int s) yield return (nameof(FimSuffix), s);
    }
}
