using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// dKV-Cache-Decode's delayed cache (Ma, Yu, Fang, Wang 2025, "dKV-Cache: The Cache for Diffusion Language Models",
/// <see href="https://arxiv.org/abs/2505.15781"/>), used by <see cref="FastDllmSampler"/> with <see cref="FastDllmCache.Delayed"/>.
/// <para>
/// It keeps the post-RoPE keys/values of every column of the canvas, [B, H_kv, T + 1, d] per layer (column T is a scratch
/// slot that padded gather/scatter entries point to). Between full forwards (refreshes), one step feeds, per row, only the
/// <em>active</em> columns
/// <code>A = masked(x) ∪ decoded at the previous step ∪ {c : c + 1 masked} (shifted models only)</code>
/// and lets them attend to the cached keys/values of every other column. A token's keys/values thus enter the cache one
/// step after it is decoded (the step at which it is re-fed as a token instead of a mask, so what gets cached matches the
/// token), masked columns are recomputed every step, and every fed column's fresh keys/values overwrite its cache entry.
/// </para>
/// <para>
/// Because attention is bidirectional and positions are explicit, the order of keys does not matter: the call is
/// "cache = K/V of the inactive columns (gathered), queries = the active columns (appended)", with per-row counts padded to
/// the batch maximum and the padding hidden by the key-padding mask. Rows never see each other's active sets.
/// </para>
/// <para>
/// Everything is per row: a step passes the sub-batch of rows that take it (<c>rows</c>, their indices in the cache's batch),
/// and only those rows' entries and "decoded at the previous step" sets change. So a row of a batch that waits for the others
/// to finish a block, or that refreshes while the others read their caches, keeps the state it would have alone.
/// </para>
/// <para>Exact cases: with one layer a column's keys/values depend only on its own token and position, so the cache always
/// holds what a full forward would compute and decoding equals the uncached sampler at every refresh interval; with a
/// refresh every step every forward is full and decoding equals the uncached sampler for any depth.</para>
/// </summary>
internal sealed class DelayedKvCache(long batch, long width) : IDisposable
{
    List<LayerKv>? _layers;            // [B, H_kv, T + 1, d] each, detached from every dispose scope
    Tensor? _maskedBefore;             // [B, T] masks of each row at the start of its previous step (detached)

    /// <summary>
    /// Replaces the entries of <paramref name="rows"/> ([R] row indices) with the keys/values of a full forward over those
    /// rows of the canvas (<paramref name="full"/>: [R, H_kv, T, d] per layer, rows in the order of <paramref name="rows"/>).
    /// </summary>
    public void Refresh(KvCache full, Tensor rows)
    {
        _layers ??= full.Layers.Select(l => new LayerKv(Empty(l.Keys), Empty(l.Values))).ToList();
        for (int i = 0; i < _layers.Count; i++)
        {
            _layers[i].Keys.narrow(2, 0, width).index_copy_(0, rows, full.Layers[i].Keys.detach());
            _layers[i].Values.narrow(2, 0, width).index_copy_(0, rows, full.Layers[i].Values.detach());
        }
    }

    /// <summary>Call before committing the tokens of <paramref name="rows"/> (the rows that take this step; <paramref name="x"/>
    /// is the whole batch): remembers which of their columns were masked, to know at their next step what was just decoded.
    /// Rows that do not take the step keep what they remembered.</summary>
    public void BeforeCommit(Tensor x, long maskId, Tensor rows)
    {
        _maskedBefore ??= zeros(batch, width, dtype: ScalarType.Bool, device: x.device).DetachFromDisposeScope();
        _maskedBefore.index_copy_(0, rows, x.index_select(0, rows).eq(maskId));
    }

    /// <summary>
    /// One cached forward for the sub-batch <paramref name="x"/> [R, T] (with its <paramref name="positions"/> and
    /// <paramref name="keyPadding"/>), whose rows are <paramref name="rows"/> of the cache's batch: feeds each row's active
    /// columns and returns the logits of the output columns [<paramref name="outFrom"/>, <paramref name="outFrom"/> +
    /// <paramref name="outCount"/>) as [R, outCount, V] (zeros where a column is not active in that row: no candidate reads
    /// it). Writes the fed columns' new keys/values into those rows' entries.
    /// </summary>
    public Tensor Step(IDenoiser denoiser, Tensor rows, Tensor x, Tensor positions, Tensor? keyPadding, long outFrom, long outCount)
    {
        if (_layers is null || _maskedBefore is null) throw new InvalidOperationException("the delayed cache needs a full forward (Refresh) first");
        long b = x.shape[0];
        using var maskId = denoiser.MaskId.ToScalar();                              // held Scalars: docs/torchsharp-scalars.md
        using var lastColumn = (width - 1).ToScalar();
        var masked = x.eq(maskId);
        var active = masked | (_maskedBefore.index_select(0, rows) & masked.logical_not());
        if (denoiser.ShiftedLogits) active.narrow(1, 0, width - 1).logical_or_(masked.narrow(1, 1, width - 1));   // output c reads c + 1

        var column = arange(width, dtype: ScalarType.Int64, device: x.device).unsqueeze(0).expand(b, -1);
        var activeCount = active.sum(1);
        long feed = activeCount.max().item<long>(), kept = width - activeCount.min().item<long>();
        var (feedIdx, feedValid) = FirstColumns(column, active, feed, width);
        var (keptIdx, keptValid) = FirstColumns(column, active.logical_not(), kept, width);

        var real = keyPadding?.to(ScalarType.Bool) ?? ones(b, width, dtype: ScalarType.Bool, device: x.device);
        var visible = cat([real.gather(1, keptIdx.clamp_max(lastColumn)) & keptValid, real.gather(1, feedIdx.clamp_max(lastColumn)) & feedValid], 1);
        var row = rows.view(b, 1, 1);                                                   // [R, 1, 1] with heads [1, H, 1], columns [R, 1, n]
        var heads = arange(_layers[0].Keys.shape[1], dtype: ScalarType.Int64, device: x.device).view(1, -1, 1);
        var past = new KvCache(_layers.Select(l => new LayerKv(l.Keys.index(row, heads, keptIdx.unsqueeze(1)),
                                                               l.Values.index(row, heads, keptIdx.unsqueeze(1)))).ToList());
        using var from = outFrom.ToScalar();
        using var to = (outFrom + outCount).ToScalar();
        var inOutput = feedValid & feedIdx.ge(from) & feedIdx.lt(to);
        var output = denoiser.Forward(new DenoiserInput(
            x.gather(1, feedIdx.clamp_max(lastColumn)), AttentionPolicy.Bidirectional, positions.gather(1, feedIdx.clamp_max(lastColumn)),
            visible, past, CacheOffset: kept, ReturnCache: true, OutputPositions: inOutput));

        for (int i = 0; i < _layers.Count; i++)                                        // padded slots all write the scratch column
        {
            var fresh = output.Cache!.Layers[i];
            _layers[i].Keys.index_put_(fresh.Keys.narrow(2, kept, feed).detach(), row, heads, feedIdx.unsqueeze(1));
            _layers[i].Values.index_put_(fresh.Values.narrow(2, kept, feed).detach(), row, heads, feedIdx.unsqueeze(1));
        }
        output.Cache!.Dispose();

        // selected rows are in row-major, ascending-column order, exactly as the active output columns of each row
        var logits = zeros(b, outCount, output.Logits.shape[^1], dtype: output.Logits.dtype, device: x.device);
        logits.index_put_(output.Logits, active.narrow(1, outFrom, outCount));
        return logits;
    }

    /// <summary>
    /// Per row, the first <paramref name="count"/> columns where <paramref name="selected"/> holds, ascending ([B, count]), and
    /// which of those slots are real: slots past a row's own count point at the scratch column <paramref name="width"/>.
    /// </summary>
    static (Tensor Index, Tensor Valid) FirstColumns(Tensor column, Tensor selected, long count, long width)
    {
        using var w = width.ToScalar();
        using var one = 1L.ToScalar();
        var key = where(selected, column, column.add(w, one));                        // selected columns sort first, in order
        var sorted = key.sort(1).Values.narrow(1, 0, count);
        var valid = sorted.lt(w);
        return (where(valid, sorted, full_like(sorted, w)), valid);
    }

    /// <summary>An all-zero [B, H_kv, T + 1, d] entry shaped like one layer's keys or values of a full forward.</summary>
    Tensor Empty(Tensor kv) => zeros(batch, kv.shape[1], width + 1, kv.shape[3], dtype: kv.dtype, device: kv.device).DetachFromDisposeScope();

    void DisposeLayers()
    {
        if (_layers is null) return;
        foreach (var l in _layers) { l.Keys.Dispose(); l.Values.Dispose(); }
        _layers = null;
    }

    public void Dispose()
    {
        DisposeLayers();
        _maskedBefore?.Dispose();
        _maskedBefore = null;
    }
}
