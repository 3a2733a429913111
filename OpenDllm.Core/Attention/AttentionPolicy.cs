using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Attention;

/// <summary>
/// Which keys each query may attend to, as a pure function of absolute indices in the key sequence.
/// The model builds its attention mask from a policy in exactly one place (<see cref="AttentionMaskBuilder"/>);
/// switching an AR checkpoint to a bidirectional diffusion student is choosing <see cref="Bidirectional"/>
/// instead of <see cref="Causal"/> (SPEC §3, §4.1).
/// </summary>
public abstract record AttentionPolicy
{
    /// <summary>Autoregressive: key j is visible to the query at absolute index i iff j ≤ i.</summary>
    public static AttentionPolicy Causal { get; } = new CausalAttention();

    /// <summary>Every key is visible (masked diffusion, SPEC §2.3 <c>is_causal=False</c>).</summary>
    public static AttentionPolicy Bidirectional { get; } = new BidirectionalAttention();

    /// <summary>The BD3LM training mask over <c>concat(x_t, x_0)</c> of length 2L (SPEC §4.1).</summary>
    public static AttentionPolicy BlockDiffusion(int blockSize) => new BlockDiffusionAttention(blockSize);

    /// <summary>Block-causal: key block ≤ query block (BD3LM sampling with a cache of finished blocks, SPEC §4.3).</summary>
    public static AttentionPolicy BlockCausal(int blockSize) => new BlockCausalAttention(blockSize);

    /// <summary>A caller-built boolean mask, true = may attend: [Lq, Lk], [B, Lq, Lk] or [B, 1|H, Lq, Lk].</summary>
    public static AttentionPolicy Explicit(Tensor allowed) => new ExplicitAttention(allowed);

    /// <summary>AR → diffusion "flip" (SPEC §3): the same weights, attention made bidirectional.</summary>
    public AttentionPolicy Flip() => this is CausalAttention ? Bidirectional : this;

    /// <summary>
    /// Boolean [Lq, Lk] (or a broadcastable batch shape for explicit masks), true where the query at absolute key index
    /// <c>queryOffset + i</c> may attend to key j; null when every key is visible.
    /// </summary>
    public abstract Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device);

    /// <summary>Absolute key indices of the queries [Lq, 1] and of the keys [1, Lk].</summary>
    protected static (Tensor Query, Tensor Key) Indices(long queryLength, long keyLength, long queryOffset, Device device) =>
        (arange(queryOffset, queryOffset + queryLength, dtype: ScalarType.Int64, device: device).unsqueeze(1),
         arange(keyLength, dtype: ScalarType.Int64, device: device).unsqueeze(0));
}

/// <summary>See <see cref="AttentionPolicy.Causal"/>.</summary>
public sealed record CausalAttention : AttentionPolicy
{
    public override Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device)
    {
        var (q, k) = Indices(queryLength, keyLength, queryOffset, device);
        return k <= q;
    }
}

/// <summary>See <see cref="AttentionPolicy.Bidirectional"/>.</summary>
public sealed record BidirectionalAttention : AttentionPolicy
{
    public override Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device) => null;
}

/// <summary>See <see cref="AttentionPolicy.BlockCausal"/>.</summary>
public sealed record BlockCausalAttention(int BlockSize) : AttentionPolicy
{
    public override Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device)
    {
        if (BlockSize <= 0) throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "block size must be positive");
        var (q, k) = Indices(queryLength, keyLength, queryOffset, device);
        return k.div(BlockSize, RoundingMode.floor) <= q.div(BlockSize, RoundingMode.floor);
    }
}

/// <summary>See <see cref="AttentionPolicy.Explicit"/>.</summary>
public sealed record ExplicitAttention(Tensor Mask) : AttentionPolicy
{
    public override Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device)
    {
        if (Mask.dtype != ScalarType.Bool) throw new ArgumentException($"explicit attention mask must be bool, got {Mask.dtype}");
        if (Mask.shape[^1] != keyLength || Mask.shape[^2] != queryLength)
            throw new ArgumentException(
                $"explicit attention mask has shape [{string.Join(", ", Mask.shape)}], expected [..., {queryLength}, {keyLength}]");
        return Mask.to(device);
    }
}
