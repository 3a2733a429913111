using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// <see cref="SuppressedTokensDenoiser"/>: the ids a greedy sampler commits on the random tiny model are never committed
/// once suppressed (every mask is still filled), with and without Fast-dLLM's dual cache; the other logits are untouched;
/// ids outside the vocabulary or equal to the mask id are refused.
/// </summary>
public class SuppressedTokensDenoiserTests
{
    const long Pad = 97;

    static readonly (IReadOnlyList<long>, int, IReadOnlyList<long>)[] Rows =
        [([1, 2, 3, 4], 10, [5, 6, 7]), ([8, 9], 12, [10, 11, 12, 13])];

    static long[] Middles(ISampler sampler, IDenoiser denoiser)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Rows.SelectMany(row => SamplingFixtures.Rows(sampler.Sample(denoiser, Canvas.ForInfill([row], denoiser.MaskId, Pad)).Sequences)[0]
                                          .Skip(row.Item1.Count).Take(row.Item2)).ToArray();                // one row at a time: no padding
    }

    public static TheoryData<string> Samplers => new() { "maskgit_plus", "fast-dllm-dual" };

    static ISampler Sampler(string name) => name == "maskgit_plus"
        ? new MaskedDiffusionSampler(new() { Algorithm = UnmaskingAlgorithm.MaskGitPlus, Steps = 12 })
        : new FastDllmSampler(new() { BlockLength = 4, Threshold = 0.9, Cache = FastDllmCache.Dual });

    [Theory, MemberData(nameof(Samplers))]
    public void TheTokensAGreedySamplerPicksAreNeverCommittedOnceSuppressed(string name)
    {
        var plain = Middles(Sampler(name), SamplingFixtures.RandomTiny());
        var picked = plain.Distinct().Take(3).ToList();                    // the model's favourite ids for these gaps
        var suppressed = Middles(Sampler(name), new SuppressedTokensDenoiser(SamplingFixtures.RandomTiny(), picked));
        Assert.DoesNotContain(suppressed, picked.Contains);
        Assert.DoesNotContain(98L, suppressed);                            // every mask was filled
        Assert.Equal(plain.Length, suppressed.Length);
    }

    [Fact]
    public void OnlyTheSuppressedLogitsChange()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var inner = SamplingFixtures.RandomTiny();
        var input = new DenoiserInput(tensor(new long[,] { { 1, 98, 98, 4 } }), OpenDllm.Attention.AttentionPolicy.Bidirectional);
        var plain = inner.Forward(input).Logits;
        var edited = new SuppressedTokensDenoiser(inner, [3, 40]).Forward(input).Logits;
        Assert.True(edited.index_select(-1, tensor(new long[] { 3, 40 })).isneginf().all().item<bool>());
        var keep = ones(plain.shape[^1], dtype: ScalarType.Bool);
        keep[3] = false; keep[40] = false;
        var kept = keep.nonzero().squeeze(1);
        Assert.True(edited.index_select(-1, kept).eq(plain.index_select(-1, kept)).all().item<bool>());
    }

    [Theory]
    [InlineData(99L, "outside the vocabulary")]
    [InlineData(-1L, "outside the vocabulary")]
    [InlineData(98L, "is the mask id")]
    public void BadIdsAreRefused(long id, string expected)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new SuppressedTokensDenoiser(SamplingFixtures.RandomTiny(), [id]));
        Assert.Contains(expected, e.Message);
    }
}
