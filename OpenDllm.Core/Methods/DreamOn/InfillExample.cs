namespace OpenDllm.Methods.DreamOn;

/// <summary>
/// One DreamOn training example (SPEC §5.7, DreamOn's <c>sft_expand_dataset.py</c>) built from a token segment:
/// <c>prefix + middle′ + suffix</c>, where middle′ is the middle with a random fraction r ~ U(0, 1) of its tokens masked,
/// some adjacent masked pairs merged into one mask labelled <c>&lt;expand&gt;</c>, and d masks labelled
/// <c>&lt;delete&gt;</c> appended. Only middle′'s masks are scored.
/// </summary>
/// <param name="Input">The model input, at most the row length: prefix, middle′, then the suffix (cut at the right when needed).</param>
/// <param name="Labels">Same length as <paramref name="Input"/>: the target id at every masked middle′ position (the
/// original token, <c>&lt;expand&gt;</c> or <c>&lt;delete&gt;</c>), <see cref="Ignore"/> elsewhere.</param>
/// <param name="PrefixLength">Tokens before the middle.</param>
/// <param name="MiddleLength">Positions of middle′ (after merges, with the deletes).</param>
/// <param name="Middle">The original middle (the text the sampler should produce).</param>
/// <param name="Merged">The second token of each merged pair, in order (the first is the label's stand-in: see <see cref="Expanded"/>).</param>
/// <param name="MergedFirst">The first token of each merged pair, in order.</param>
/// <param name="Deletes">d, the number of appended <c>&lt;delete&gt;</c> targets.</param>
public sealed record InfillExample(long[] Input, long[] Labels, int PrefixLength, int MiddleLength, long[] Middle,
                                   long[] MergedFirst, long[] Merged, int Deletes)
{
    /// <summary>The label of a position that is not scored.</summary>
    public const long Ignore = -100;

    /// <summary>
    /// The middle middle′ stands for: every unmasked token as it is, every masked one as its label, an <c>&lt;expand&gt;</c>
    /// as the pair it replaced, a <c>&lt;delete&gt;</c> as nothing. Equals <see cref="Middle"/> (the invariant the property tests check).
    /// </summary>
    public long[] Expanded(DreamOnTokens tokens)
    {
        var result = new List<long>();
        int pair = 0;
        for (int i = PrefixLength; i < PrefixLength + MiddleLength; i++)
        {
            long label = Labels[i];
            if (label == Ignore) result.Add(Input[i]);
            else if (label == tokens.Expand) { result.Add(MergedFirst[pair]); result.Add(Merged[pair++]); }
            else if (label != tokens.Delete) result.Add(label);
        }
        return [.. result];
    }

    /// <summary>
    /// Builds an example from <paramref name="segment"/> (one document's tokens, at least 2) for a row of
    /// <paramref name="rowLength"/> positions, every draw from <paramref name="random"/>:
    /// <list type="number">
    /// <item>the middle: 1 to <see cref="DreamOnOptions.MaxMiddleLines"/> whole lines (a line ends with a token for which
    /// <paramref name="endsLine"/> holds) starting after the first token, cut to <see cref="DreamOnOptions.MaxMiddleTokens"/>;
    /// a random span of that many tokens when the segment has no line to take;</item>
    /// <item>masking: r ~ U(0, 1), each middle token masked with probability r;</item>
    /// <item>merging: left to right, two adjacent masked tokens become one mask labelled <c>&lt;expand&gt;</c> with probability
    /// p = merge_prob·(1 − m/n) (<c>dynamic_inverse</c>, m masked of n; half the examples use p = merge_prob) or
    /// p = merge_prob (<c>static</c>);</item>
    /// <item>deletes: d ~ U{0, …, min(max_delete, room)} masks labelled <c>&lt;delete&gt;</c> after the middle, room being the
    /// row positions left after prefix and merged middle; the suffix is cut at the right so everything fits the row.</item>
    /// </list>
    /// </summary>
    public static InfillExample Build(IReadOnlyList<long> segment, int rowLength, Func<long, bool> endsLine, DreamOnOptions options,
                                      DreamOnTokens tokens, long maskId, Random random)
    {
        int n = segment.Count;
        if (n < 2) throw new ArgumentException($"a DreamOn example needs at least 2 tokens, got {n}", nameof(segment));
        if (n > rowLength) throw new ArgumentException($"segment of {n} tokens is longer than the row ({rowLength})", nameof(segment));
        var (start, end) = PickMiddle(segment, endsLine, options, random);

        // masking with ratio r ~ U(0, 1)
        double r = random.NextDouble();
        int middleCount = end - start;
        var masked = new bool[middleCount];
        for (int i = 0; i < middleCount; i++) masked[i] = random.NextDouble() < r;
        int m = masked.Count(x => x);

        // merging adjacent masked pairs
        bool dynamic = options.MergeSchedule == MergeSchedule.DynamicInverse && random.NextDouble() < 0.5;
        double p = options.MergeProb * (dynamic ? 1.0 - (double)m / middleCount : 1.0);
        var input = new List<long>(rowLength);
        var labels = new List<long>(rowLength);
        for (int i = 0; i < start; i++) { input.Add(segment[i]); labels.Add(Ignore); }
        var first = new List<long>();
        var second = new List<long>();
        for (int i = 0; i < middleCount; i++)
        {
            long token = segment[start + i];
            if (masked[i] && i + 1 < middleCount && masked[i + 1] && random.NextDouble() < p)
            {
                input.Add(maskId); labels.Add(tokens.Expand);
                first.Add(token); second.Add(segment[start + i + 1]);
                i++;
            }
            else if (masked[i]) { input.Add(maskId); labels.Add(token); }
            else { input.Add(token); labels.Add(Ignore); }
        }

        // deletes, then as much of the suffix as fits
        int room = rowLength - input.Count;
        int deletes = random.Next(0, Math.Min(options.MaxDelete, room) + 1);
        for (int i = 0; i < deletes; i++) { input.Add(maskId); labels.Add(tokens.Delete); }
        int middleLength = input.Count - start;
        for (int i = end; i < n && input.Count < rowLength; i++) { input.Add(segment[i]); labels.Add(Ignore); }
        return new InfillExample([.. input], [.. labels], start, middleLength,
                                 segment.Skip(start).Take(middleCount).ToArray(), [.. first], [.. second], deletes);
    }

    /// <summary>[start, end) of the middle: whole lines after a line end when there are any, else a random span; never
    /// empty, never at position 0 (a shifted model needs one token before it), at most max_middle_tokens long.</summary>
    static (int Start, int End) PickMiddle(IReadOnlyList<long> segment, Func<long, bool> endsLine, DreamOnOptions options, Random random)
    {
        int n = segment.Count;
        var lineStarts = new List<int>();
        for (int i = 0; i + 1 < n; i++)
            if (endsLine(segment[i])) lineStarts.Add(i + 1);
        if (lineStarts.Count > 0)
        {
            int start = lineStarts[random.Next(lineStarts.Count)];
            int lines = random.Next(1, options.MaxMiddleLines + 1), end = start;
            while (end < n && lines > 0)
                if (endsLine(segment[end++])) lines--;
            return (start, Math.Min(end, start + options.MaxMiddleTokens));
        }
        int s = random.Next(1, n);
        int length = random.Next(1, Math.Min(options.MaxMiddleTokens, n - s) + 1);
        return (s, s + length);
    }
}
