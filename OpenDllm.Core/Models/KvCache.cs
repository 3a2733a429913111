using OpenDllm.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// Keys (after RoPE) and values of every layer for positions [0, Length), [B, H_kv, T, d] each. Immutable: a forward
/// that takes a cache returns a new one, so samplers can keep a prefix cache and branch from it (SPEC §5.4).
/// The cache owns its tensors; dispose it (or let a dispose scope do it) when done.
/// </summary>
public sealed class KvCache : IDisposable
{
    public KvCache(IReadOnlyList<LayerKv> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("a cache needs at least one layer");
        Layers = layers;
    }

    public IReadOnlyList<LayerKv> Layers { get; }

    /// <summary>Number of cached positions.</summary>
    public long Length => Layers[0].Length;

    /// <summary>The first <paramref name="length"/> positions (prefix cache: drop the current block and what follows).</summary>
    public KvCache Truncate(long length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"cache holds {Length} positions");
        return new KvCache(Layers.Select(l => new LayerKv(l.Keys.narrow(2, 0, length), l.Values.narrow(2, 0, length))).ToList());
    }

    /// <summary>Moves every tensor to the enclosing dispose scope (use when returning a cache from a scoped step).</summary>
    public KvCache MoveToOuterDisposeScope()
    {
        foreach (var l in Layers) { l.Keys.MoveToOuterDisposeScope(); l.Values.MoveToOuterDisposeScope(); }
        return this;
    }

    /// <summary>Detaches every tensor from all dispose scopes (the caller disposes the cache).</summary>
    public KvCache DetachFromDisposeScope()
    {
        foreach (var l in Layers) { l.Keys.DetachFromDisposeScope(); l.Values.DetachFromDisposeScope(); }
        return this;
    }

    public void Dispose()
    {
        foreach (var l in Layers) { l.Keys.Dispose(); l.Values.Dispose(); }
    }
}
