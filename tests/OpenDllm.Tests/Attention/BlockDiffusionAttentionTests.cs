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

    [Fact]
    public void NoisyQueriesNeverSeeOtherNoisyBlocksAndCleanHalfIsBlockCausal()
    {
        const int b = 2; const long n = 6;
        for (long q = 0; q < 2 * n; q++)
            for (long k = 0; k < 2 * n; k++)
            {
                bool allowed = BlockDiffusionAttention.Allows(q, k, b, n);
                if (q < n && k < n) Assert.Equal(q / b == k / b, allowed);                  // noisy → noisy: own block only
                if (q < n && k >= n) Assert.Equal((k - n) / b < q / b, allowed);           // noisy → strictly earlier clean blocks
                if (q >= n && k >= n) Assert.Equal((k - n) / b <= (q - n) / b, allowed);   // clean: block-causal
                if (q >= n && k < n) Assert.False(allowed);                                // clean never sees noisy
            }
    }
}
