using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Attention;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Attention;

public class BlockDiffusionAttentionTests
{
    /// <summary>The tensor mask equals the scalar definition of SPEC §4.1 at every (query, key).</summary>
    [Property(MaxTest = 40)]
    public Property TensorMaskEqualsScalarDefinition(PositiveInt blockSize, PositiveInt half)
    {
        int b = Math.Min(blockSize.Get, 8);
        long n = Math.Min(half.Get, 24);
        using var scope = NewDisposeScope();
        var mask = AttentionPolicy.BlockDiffusion(b).Allowed(2 * n, 2 * n, 0, CPU)!;
        var values = mask.data<bool>().ToArray();
        bool all = true;
        for (long q = 0; q < 2 * n; q++)
            for (long k = 0; k < 2 * n; k++)
                all &= values[q * 2 * n + k] == BlockDiffusionAttention.Allows(q, k, b, n);
        return all.Label($"b={b}, n={n}").Classify(n % b == 0, "n multiple of b");
    }

    /// <summary>SPEC §4.1 semantics, clause by clause, for random block sizes and lengths.</summary>
    [Property(MaxTest = 100)]
    public Property NoisyQueriesNeverSeeOtherNoisyBlocksAndCleanHalfIsBlockCausal(PositiveInt blockSize, PositiveInt half)
    {
        int b = Math.Min(blockSize.Get, 9);
        long n = Math.Min(half.Get, 30);
        bool noisyOwnBlockOnly = true, noisySeesStrictlyEarlierClean = true, cleanBlockCausal = true, cleanNeverSeesNoisy = true;
        for (long q = 0; q < 2 * n; q++)
            for (long k = 0; k < 2 * n; k++)
            {
                bool allowed = BlockDiffusionAttention.Allows(q, k, b, n);
                if (q < n && k < n) noisyOwnBlockOnly &= allowed == (q / b == k / b);
                if (q < n && k >= n) noisySeesStrictlyEarlierClean &= allowed == ((k - n) / b < q / b);
                if (q >= n && k >= n) cleanBlockCausal &= allowed == ((k - n) / b <= (q - n) / b);
                if (q >= n && k < n) cleanNeverSeesNoisy &= !allowed;
            }
        return noisyOwnBlockOnly.Label("noisy → noisy: own block only")
            .And(noisySeesStrictlyEarlierClean.Label("noisy → clean: strictly earlier blocks"))
            .And(cleanBlockCausal.Label("clean → clean: block-causal"))
            .And(cleanNeverSeesNoisy.Label("clean never sees noisy"))
            .Classify(b == 1, "block size 1 (AR-like)").Classify(n % b != 0, "partial last block");
    }
}
