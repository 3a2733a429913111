using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Modules;
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
/// <para>Exact cases: with one layer a column's keys/values depend only on its own token and position, so the cache always
/// holds what a full forward would compute and decoding equals the uncached sampler at every refresh interval; with a
/// refresh every step every forward is full and decoding equals the uncached sampler for any depth.</para>
/// </summary>
internal sealed class DelayedKvCache : IDisposable
{
    List<LayerKv>? _layers;            // [B, H_kv, T + 1, d] each, detached from every dispose scope
    Tensor? _maskedBefore;             // [B, T] masks at the start of the previous step (detached)

    /// <summary>Replaces every entry with the keys/values of a full forward over the whole canvas ([B, H_kv, T, d] per layer).</summary>
    public void Refresh(KvCache full)
    {
        DisposeLayers();
        _layers = full.Layers.Select(l => new LayerKv(WithScratch(l.Keys), WithScratch(l.Values))).ToList();
    }

    /// <summary>Call before committing tokens: remembers which columns were masked, to know next step what was just decoded.</summary>
    public void BeforeCommit(Tensor x, long maskId)
    {
        _maskedBefore?.Dispose();
        _maskedBefore = x.eq(maskId).DetachFromDisposeScope();
    }

    /// <summary>
    /// One cached forward: feeds the active columns of <paramref name="x"/> and returns the logits of the output columns
    /// [<paramref name="outFrom"/>, <paramref name="outFrom"/> + <paramref name="outCount"/>) as [B, outCount, V] (zeros where
    /// a column is not active in that row: no candidate reads it). Writes the fed columns' new keys/values into the cache.
    /// </summary>
    public Tensor Step(IDenoiser denoiser, Tensor x, Tensor positions, Tensor? keyPadding, long outFrom, long outCount)
    {
        if (_layers is null) throw new InvalidOperationException("the delayed cache needs a full forward (Refresh) first");
        long b = x.shape[0], width = x.shape[1];
        var masked = x.eq(denoiser.MaskId);
        var active = _maskedBefore is null ? masked.clone() : masked | (_maskedBefore & masked.logical_not());
        if (denoiser.ShiftedLogits) active.narrow(1, 0, width - 1).logical_or_(masked.narrow(1, 1, width - 1));   // output c reads c + 1

        var column = arange(width, dtype: ScalarType.Int64, device: x.device).unsqueeze(0).expand(b, -1);
        var activeCount = active.sum(1);
        long feed = activeCount.max().item<long>(), kept = (width - activeCount).max().item<long>();
        var (feedIdx, feedValid) = FirstColumns(column, active, feed, width);
        var (keptIdx, keptValid) = FirstColumns(column, active.logical_not(), kept, width);

        var real = keyPadding?.to(ScalarType.Bool) ?? ones(b, width, dtype: ScalarType.Bool, device: x.device);
        var visible = cat([real.gather(1, keptIdx.clamp_max(width - 1)) & keptValid, real.gather(1, feedIdx.clamp_max(width - 1)) & feedValid], 1);
        var past = new KvCache(_layers.Select(l => new LayerKv(Gather(l.Keys, keptIdx), Gather(l.Values, keptIdx))).ToList());
        var inOutput = feedValid & feedIdx.ge(outFrom) & feedIdx.lt(outFrom + outCount);
        var output = denoiser.Forward(new DenoiserInput(
            x.gather(1, feedIdx.clamp_max(width - 1)), AttentionPolicy.Bidirectional, positions.gather(1, feedIdx.clamp_max(width - 1)),
            visible, past, CacheOffset: kept, ReturnCache: true, OutputPositions: inOutput));

        for (int i = 0; i < _layers.Count; i++)
        {
            var fresh = output.Cache!.Layers[i];
            Scatter(_layers[i].Keys, feedIdx, fresh.Keys.narrow(2, kept, feed));
            Scatter(_layers[i].Values, feedIdx, fresh.Values.narrow(2, kept, feed));
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
        var key = where(selected, column, column + width);                            // selected columns sort first, in order
        var sorted = key.sort(1).Values.narrow(1, 0, count);
        var valid = sorted.lt(width);
        return (where(valid, sorted, full_like(sorted, width)), valid);
    }

    static Tensor Gather(Tensor kv, Tensor index) =>
        kv.gather(2, index.unsqueeze(1).unsqueeze(-1).expand(kv.shape[0], kv.shape[1], index.shape[1], kv.shape[3]));

    static void Scatter(Tensor kv, Tensor index, Tensor values) =>
        kv.scatter_(2, index.unsqueeze(1).unsqueeze(-1).expand(values.shape), values.detach());

    static Tensor WithScratch(Tensor kv) =>
        cat([kv.detach(), zeros(kv.shape[0], kv.shape[1], 1, kv.shape[3], dtype: kv.dtype, device: kv.device)], 2).DetachFromDisposeScope();

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
