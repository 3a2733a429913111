using static TorchSharp.torch;

namespace OpenDllm.Attention;

/// <summary>
/// The BD3LM 2L attention mask (SPEC §4.1; Arriola et al., "Block Diffusion", <see href="https://arxiv.org/abs/2503.09573"/>).
/// The input is <c>concat(x_t, x_0)</c> of length 2n; for query q and key k with <c>x0_q = q ≥ n</c>,
/// <c>blk_q = (q − n·x0_q) / b</c> (and likewise for k):
/// <code>
/// M_BD  = blk_q == blk_k ∧ x0_q == x0_k          block-diagonal within each half
/// M_OBC = blk_q &gt;  blk_k ∧ x0_k ∧ ¬x0_q          a noisy block sees strictly earlier clean blocks
/// M_BC  = blk_q ≥  blk_k ∧ x0_k ∧ x0_q           the clean half is block-causal
/// allowed = M_BD ∨ M_OBC ∨ M_BC
/// </code>
/// n is half the key length, so the same policy serves any sequence length.
/// </summary>
public sealed record BlockDiffusionAttention(int BlockSize) : AttentionPolicy
{
    /// <summary>The mask as a pure scalar function of (query, key, block size b, half length n).</summary>
    public static bool Allows(long q, long k, int b, long n)
    {
        bool x0Q = q >= n, x0K = k >= n;
        long blkQ = (q - (x0Q ? n : 0)) / b, blkK = (k - (x0K ? n : 0)) / b;
        bool blockDiagonal = blkQ == blkK && x0Q == x0K;
        bool offsetBlockCausal = blkQ > blkK && x0K && !x0Q;
        bool blockCausal = blkQ >= blkK && x0K && x0Q;
        return blockDiagonal || offsetBlockCausal || blockCausal;
    }

    public override Tensor? Allowed(long queryLength, long keyLength, long queryOffset, Device device)
    {
        if (BlockSize <= 0) throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "block size must be positive");
        if (keyLength % 2 != 0)
            throw new ArgumentException($"block-diffusion attention needs concat(x_t, x_0): key length {keyLength} is odd");
        long n = keyLength / 2;
        var (q, k) = Indices(queryLength, keyLength, queryOffset, device);
        // Same formula as Allows, vectorised over [Lq, Lk].
        var x0Q = q >= n;
        var x0K = k >= n;
        var blkQ = (q - x0Q.to(ScalarType.Int64) * n).div(BlockSize, RoundingMode.floor);
        var blkK = (k - x0K.to(ScalarType.Int64) * n).div(BlockSize, RoundingMode.floor);
        var blockDiagonal = blkQ.eq(blkK) & x0Q.eq(x0K);
        var offsetBlockCausal = blkQ.gt(blkK) & x0K & x0Q.logical_not();
        var blockCausal = blkQ.ge(blkK) & x0K & x0Q;
        return blockDiagonal | offsetBlockCausal | blockCausal;
    }
}
