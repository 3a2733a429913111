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
    /// prefix + N masks + suffix per row (SPEC §5.6), N given per row (fixed length or the oracle length).
    /// Rows are right-padded with <paramref name="padId"/> (excluded by the key-padding mask). With unequal rows only the
    /// masked-diffusion sampler decodes each row as alone; the block-wise samplers cut blocks from the batch's first masked column.
    /// </summary>
    public static Canvas ForInfill(IReadOnlyList<(IReadOnlyList<long> Prefix, int Length, IReadOnlyList<long> Suffix)> rows,
                                   long maskId, long padId)
    {
        if (rows.Count == 0) throw new ArgumentException("no infill rows");
        int width = rows.Max(r => r.Prefix.Count + r.Length + r.Suffix.Count);
        var tokens = new long[rows.Count, width];
        var real = new bool[rows.Count, width];
        for (int i = 0; i < rows.Count; i++)
        {
            var (prefix, n, suffix) = rows[i];
            if (n < 0) throw new ArgumentOutOfRangeException(nameof(rows), n, $"row {i}: middle length must be ≥ 0");
            int j = 0;
            foreach (var t in prefix) { tokens[i, j] = t; real[i, j++] = true; }
            for (int k = 0; k < n; k++) { tokens[i, j] = maskId; real[i, j++] = true; }
            foreach (var t in suffix) { tokens[i, j] = t; real[i, j++] = true; }
            for (; j < width; j++) tokens[i, j] = padId;
        }
        bool padded = rows.Select(r => r.Prefix.Count + r.Length + r.Suffix.Count).Distinct().Count() > 1;
        return new Canvas(tensor(tokens), padded ? tensor(real) : null);
    }
}
