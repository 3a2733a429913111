namespace OpenDllm.Methods.ArFim;

/// <summary>
/// The fill-in-the-middle transformation of Bavarian et al. 2022 ("Efficient Training of Language Models to Fill in the
/// Middle", <see href="https://arxiv.org/abs/2207.14255"/>), in its PSM order as Qwen2.5-Coder and SantaCoder spell it:
/// a document d is cut at two points 0 ≤ a ≤ b ≤ |d| into prefix d[0, a), middle d[a, b) and suffix d[b, |d|), and trained
/// on as <c>&lt;|fim_prefix|&gt; prefix &lt;|fim_suffix|&gt; suffix &lt;|fim_middle|&gt; middle</c>, so that an ordinary
/// left-to-right model learns to write the middle after seeing both sides. At inference the prompt is everything up to and
/// including <c>&lt;|fim_middle|&gt;</c>, and the model writes the middle and then EOS.
/// </summary>
/// <remarks>
/// The split points are drawn at token level (the paper splits characters before tokenizing; OpenDllm's data is already
/// tokenized, as in SantaCoder's Megatron implementation; with the byte tokenizer a token is a byte, a character for ASCII
/// code). A document must not itself contain the sentinels for <see cref="FromPsm"/> to undo the transformation.
/// </remarks>
public static class FimTransform
{
    /// <summary>PSM: <c>[PRE] d[0,a) [SUF] d[b,n) [MID] d[a,b)</c>, three tokens longer than <paramref name="document"/>.</summary>
    public static long[] ToPsm(ReadOnlySpan<long> document, int prefixEnd, int middleEnd, FimTokens fim)
    {
        CheckSplit(document.Length, prefixEnd, middleEnd);
        var prefix = document[..prefixEnd];
        var middle = document[prefixEnd..middleEnd];
        var suffix = document[middleEnd..];
        var psm = new long[document.Length + 3];
        int o = 0;
        psm[o++] = fim.Prefix;
        prefix.CopyTo(psm.AsSpan(o)); o += prefix.Length;
        psm[o++] = fim.Suffix;
        suffix.CopyTo(psm.AsSpan(o)); o += suffix.Length;
        psm[o++] = fim.Middle;
        middle.CopyTo(psm.AsSpan(o));
        return psm;
    }

    /// <summary>
    /// Undoes <see cref="ToPsm"/>: prefix + middle + suffix. Anything after the middle's EOS (if one follows it) is left out.
    /// Throws <see cref="ArgumentException"/> when <paramref name="psm"/> is not a PSM sequence (sentinels missing or out of order).
    /// </summary>
    public static long[] FromPsm(ReadOnlySpan<long> psm, FimTokens fim)
    {
        if (psm.Length < 3 || psm[0] != fim.Prefix) throw new ArgumentException("not a PSM sequence: it does not start with <|fim_prefix|>");
        int suffixAt = psm.IndexOf(fim.Suffix), middleAt = psm.IndexOf(fim.Middle);
        if (suffixAt < 0 || middleAt < suffixAt) throw new ArgumentException("not a PSM sequence: <|fim_suffix|> must come before <|fim_middle|>");
        var middle = psm[(middleAt + 1)..];
        int eos = middle.IndexOf(fim.Eos);
        if (eos >= 0) middle = middle[..eos];
        return [.. psm[1..suffixAt], .. middle, .. psm[(suffixAt + 1)..middleAt]];
    }

    /// <summary>Two cut points drawn uniformly from 0..<paramref name="length"/> and sorted (the paper's uniform split).</summary>
    public static (int PrefixEnd, int MiddleEnd) DrawSplit(int length, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int a = random.Next(length + 1), b = random.Next(length + 1);
        return (Math.Min(a, b), Math.Max(a, b));
    }

    /// <summary>
    /// Turns one packed piece of a document in place into its PSM form with probability <paramref name="rate"/>, keeping its
    /// length, and says whether it did. The piece is its tokens, ending in EOS when the document ends inside the row. Its
    /// content (the tokens before that EOS) is split at <see cref="DrawSplit"/>'s points and becomes
    /// <c>[PRE] prefix [SUF] suffix′ [MID] middle EOS</c>: the middle always ends in EOS, so the model learns where a middle
    /// stops, and suffix′ is the suffix shortened by the 3 or 4 tokens the sentinels (and an added EOS) take, as SantaCoder's
    /// <c>truncate_or_pad</c> does, so packed rows keep their length. When the suffix is too short for that the piece stays
    /// as it is. One uniform draw decides, two draw the split (none when it stays).
    /// </summary>
    public static bool ApplyInPlace(Span<long> piece, FimTokens fim, double rate, Random random)
    {
        if (random.NextDouble() >= rate) return false;
        bool endsWithEos = piece.Length > 0 && piece[^1] == fim.Eos;
        var content = endsWithEos ? piece[..^1] : piece;
        var (a, b) = DrawSplit(content.Length, random);
        int overflow = OverflowTokens(endsWithEos);
        if (content.Length - b < overflow) return false;
        var psm = ToPsm(content[..^overflow], a, b, fim);                                 // suffix′ = suffix minus its last tokens
        psm.CopyTo(piece);
        piece[^1] = fim.Eos;
        return true;
    }

    /// <summary>Tokens the suffix gives up in <see cref="ApplyInPlace"/>: 3 sentinels, plus 1 for the EOS when the piece had none.</summary>
    public static int OverflowTokens(bool endsWithEos) => endsWithEos ? 3 : 4;

    static void CheckSplit(int length, int prefixEnd, int middleEnd)
    {
        if (prefixEnd < 0 || prefixEnd > middleEnd || middleEnd > length)
            throw new ArgumentOutOfRangeException(nameof(prefixEnd), $"split points {prefixEnd}, {middleEnd} must satisfy 0 ≤ a ≤ b ≤ {length}");
    }
}
