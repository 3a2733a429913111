using OpenDllm.Tokenization;

namespace OpenDllm.Methods.ArFim;

/// <summary>
/// The ids fill-in-the-middle uses: the three sentinels <c>&lt;|fim_prefix|&gt;</c>, <c>&lt;|fim_suffix|&gt;</c>,
/// <c>&lt;|fim_middle|&gt;</c> (spelled as in Qwen2.5-Coder; the byte tokenizer has them as 259, 261, 260) and the EOS that
/// ends the middle.
/// </summary>
public sealed record FimTokens(long Prefix, long Suffix, long Middle, long Eos)
{
    /// <summary>The tokenizer's FIM ids; throws <see cref="ArgumentException"/> naming the tokenizer when it lacks one.</summary>
    public static FimTokens From(ITokenizer tokenizer)
    {
        var s = tokenizer.Special;
        if (s.FimPrefix is not { } p || s.FimSuffix is not { } f || s.FimMiddle is not { } m)
            throw new ArgumentException($"tokenizer {tokenizer.Name} has no fill-in-the-middle tokens (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>); "
                + "FIM needs a tokenizer that has them (byte, or a Qwen2.5-Coder tokenizer)");
        return new FimTokens(p, f, m, s.Eos);
    }

    /// <summary>True for one of the three sentinels.</summary>
    public bool IsSentinel(long id) => id == Prefix || id == Suffix || id == Middle;
}
