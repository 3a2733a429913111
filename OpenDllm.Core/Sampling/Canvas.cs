using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// What a sampler fills: tokens [B, T] in which every <c>[MASK]</c> is to be decoded, and a key-padding mask
/// (true = real token) when rows have different lengths. Every non-mask token is fixed context (prompt, suffix, padding)
/// and never changes, except that the p2 algorithm may re-mask tokens it decoded itself (SPEC §5.2).
/// </summary>
public sealed record Canvas(Tensor Tokens, Tensor? KeyPadding = null)
{
    /// <summary>Prompt + <paramref name="length"/> masks per row (SPEC §5.2). Prompts of different lengths are
    /// left-padded with <paramref name="padId"/> so that generation starts at the same column; the key-padding mask hides
    /// the padding from every attention (KV caches included) and positions skip it, so under greedy decoding every sampler
    /// gives each row the tokens it gives that prompt alone (a ragged batch; README "Batched decoding").</summary>
    public static Canvas ForCompletion(IReadOnlyList<IReadOnlyList<long>> prompts, int length, long maskId, long padId)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompts");
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "generation length must be positive");
        int width = prompts.Max(p => p.Count);
        var tokens = new long[prompts.Count, width + length];
        var real = new bool[prompts.Count, width + length];
        for (int r = 0; r < prompts.Count; r++)
        {
            int pad = width - prompts[r].Count;
            for (int j = 0; j < width + length; j++)
            {
                tokens[r, j] = j < pad ? padId : j < width ? prompts[r][j - pad] : maskId;
                real[r, j] = j >= pad;
            }
        }
        bool padded = prompts.Any(p => p.Count != width);
        return new Canvas(tensor(tokens), padded ? tensor(real) : null);
    }

    /// <summary>
    /// prefix + N masks + suffix per row (SPEC §5.6), N given per row (fixed length or the oracle length). Rows of unequal
    /// lengths are aligned at both ends of the middle: each prefix is left-padded so every row's masks start at column
    /// <see cref="InfillMiddleColumn"/> (the longest prefix), the middle is followed by padding up to the longest middle so
    /// every suffix starts at the same column, and the suffix is right-padded to the widest row. All padding is
    /// <paramref name="padId"/>, hidden by the key-padding mask, and positions skip it, so a row's blocks, its block's fed
    /// columns and its frozen suffix are the ones it has alone: under greedy decoding every sampler that takes infill
    /// canvases (masked diffusion, LLaDA, Fast-dLLM with every cache) gives each row the tokens it gets alone.
    /// Row r's middle is the columns [<see cref="InfillMiddleColumn"/>, + N_r).
    /// </summary>
    public static Canvas ForInfill(IReadOnlyList<(IReadOnlyList<long> Prefix, int Length, IReadOnlyList<long> Suffix)> rows,
                                   long maskId, long padId)
    {
        if (rows.Count == 0) throw new ArgumentException("no infill rows");
        for (int i = 0; i < rows.Count; i++)
            if (rows[i].Length < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows[i].Length, $"row {i}: middle length must be ≥ 0");
        int middleStart = InfillMiddleColumn(rows), suffixStart = middleStart + rows.Max(r => r.Length);
        int width = suffixStart + rows.Max(r => r.Suffix.Count);
        var tokens = new long[rows.Count, width];
        var real = new bool[rows.Count, width];
        bool padded = false;
        for (int i = 0; i < rows.Count; i++)
        {
            var (prefix, n, suffix) = rows[i];
            for (int j = 0; j < width; j++) tokens[i, j] = padId;
            void Put(int column, long token) { tokens[i, column] = token; real[i, column] = true; }
            for (int k = 0; k < prefix.Count; k++) Put(middleStart - prefix.Count + k, prefix[k]);
            for (int k = 0; k < n; k++) Put(middleStart + k, maskId);
            for (int k = 0; k < suffix.Count; k++) Put(suffixStart + k, suffix[k]);
            padded |= prefix.Count + n + suffix.Count != width;
        }
        return new Canvas(tensor(tokens), padded ? tensor(real) : null);
    }

    /// <summary>The column where every row's middle starts in <see cref="ForInfill"/>'s canvas: the longest prefix.</summary>
    public static int InfillMiddleColumn(IReadOnlyList<(IReadOnlyList<long> Prefix, int Length, IReadOnlyList<long> Suffix)> rows) =>
        rows.Max(r => r.Prefix.Count);
}
