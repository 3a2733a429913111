using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Masking;

/// <summary>
/// Infilling masks (SPEC §5.6): per row, exactly one contiguous middle [start, start + length) is masked between a
/// clean prefix and a clean suffix. The span is given, or sampled from a seeded generator. <see cref="SpanMask"/> is
/// also usable as the <c>maskable</c> argument of <see cref="ForwardMasking.Apply"/> to noise only the middle.
/// </summary>
public static class SpanMasking
{
    /// <summary>[B, L] bool, true exactly at positions start_b ≤ p &lt; start_b + length_b.</summary>
    /// <param name="start">[B] int64.</param>
    /// <param name="spanLength">[B] int64.</param>
    public static Tensor SpanMask(long batch, long length, Tensor start, Tensor spanLength, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var pos = arange(length, dtype: ScalarType.Int64, device: device).unsqueeze(0);           // [1, L]
        var s = start.to(ScalarType.Int64).to(pos.device).view(batch, 1);                          // [B, 1]
        var e = s + spanLength.to(ScalarType.Int64).to(pos.device).view(batch, 1);                 // [B, 1]
        return pos.ge(s).logical_and(pos.lt(e)).MoveToOuterDisposeScope();                         // [B, L]
    }

    /// <summary>Masks the given middle of every row: x[b, start_b : start_b + length_b] = m.</summary>
    public static SpanMaskedBatch Apply(Tensor x0, long maskId, Tensor start, Tensor spanLength)
    {
        if (x0.dim() != 2) throw new ArgumentException($"expected x0 [B, L], got [{string.Join(", ", x0.shape)}].", nameof(x0));
        long batch = x0.shape[0], length = x0.shape[1];
        var starts = ToLongs(start); var lengths = ToLongs(spanLength);
        if (starts.Length != batch || lengths.Length != batch) throw new ArgumentException($"start and length need {batch} entries.");
        for (int b = 0; b < batch; b++)
            if (starts[b] < 0 || lengths[b] < 0 || starts[b] + lengths[b] > length)
                throw new ArgumentOutOfRangeException(nameof(start), $"row {b}: span [{starts[b]}, {starts[b] + lengths[b]}) is outside [0, {length}).");
        using var scope = NewDisposeScope();
        var masked = SpanMask(batch, length, start, spanLength, x0.device);                        // [B, L]
        return new SpanMaskedBatch(
            x0.masked_fill(masked, maskId).MoveToOuterDisposeScope(),
            masked.MoveToOuterDisposeScope(),
            tensor(starts, device: x0.device).MoveToOuterDisposeScope(),
            tensor(lengths, device: x0.device).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Samples one middle per row, then masks it. Row b has n_b = validLengths[b] real tokens (all L when null; the
    /// padding after n_b is never masked). The span length is uniform on [minSpan, min(maxSpan, n_b − minPrefix − minSuffix)],
    /// then the start is uniform on [minPrefix, n_b − minSuffix − length], so prefix ≥ minPrefix and suffix ≥ minSuffix.
    /// </summary>
    public static SpanMaskedBatch Sample(Tensor x0, long maskId, Generator generator, Tensor? validLengths = null,
        int minPrefix = 0, int minSuffix = 0, int minSpan = 1, int? maxSpan = null)
    {
        if (x0.dim() != 2) throw new ArgumentException($"expected x0 [B, L], got [{string.Join(", ", x0.shape)}].", nameof(x0));
        ArgumentOutOfRangeException.ThrowIfNegative(minPrefix);
        ArgumentOutOfRangeException.ThrowIfNegative(minSuffix);
        ArgumentOutOfRangeException.ThrowIfLessThan(minSpan, 1);
        long batch = x0.shape[0], length = x0.shape[1];
        var n = validLengths is null ? Enumerable.Repeat(length, (int)batch).ToArray() : ToLongs(validLengths);
        if (n.Length != batch) throw new ArgumentException($"validLengths needs {batch} entries.", nameof(validLengths));
        double[] u;
        using (var draws = SeededDraws.Uniform([batch, 2], generator))                                // [B, 2] on the CPU: (length, start)
            u = draws.data<double>().ToArray();
        var starts = new long[batch]; var lengths = new long[batch];
        for (int b = 0; b < batch; b++)
        {
            long room = Math.Min(n[b], length) - minPrefix - minSuffix;                              // most tokens the middle can take
            long hi = Math.Min(room, maxSpan ?? long.MaxValue);
            if (hi < minSpan) throw new ArgumentException($"row {b}: {n[b]} tokens leave no middle of ≥ {minSpan} between prefix ≥ {minPrefix} and suffix ≥ {minSuffix}.");
            lengths[b] = minSpan + (long)(u[2 * b] * (hi - minSpan + 1));
            starts[b] = minPrefix + (long)(u[2 * b + 1] * (room - lengths[b] + 1));
        }
        using var s = tensor(starts); using var l = tensor(lengths);
        return Apply(x0, maskId, s, l);
    }

    private static long[] ToLongs(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.to(ScalarType.Int64).cpu().contiguous().flatten().data<long>().ToArray();
    }
}

/// <summary>An infilling batch: x with the middle masked.</summary>
/// <param name="Tokens">[B, L] int64, the middle set to the mask id.</param>
/// <param name="Masked">[B, L] bool, true exactly on the middle.</param>
/// <param name="Start">[B] int64, first masked position (= prefix length), on the tokens' device.</param>
/// <param name="Length">[B] int64, middle length, on the tokens' device.</param>
public sealed record SpanMaskedBatch(Tensor Tokens, Tensor Masked, Tensor Start, Tensor Length);
