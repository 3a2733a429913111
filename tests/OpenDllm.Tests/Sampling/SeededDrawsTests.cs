using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>The draws every random choice goes through (<see cref="SeededDraws"/>).</summary>
public class SeededDrawsTests
{
    [Fact]
    public void CategoricalFollowsTheWeightsAndNeverDrawsAZeroWeight()
    {
        using var scope = NewDisposeScope();
        double[] w = [0.5, 0, 0.2, 0.3, 0];                                           // unnormalised is fine too: ×2 below
        var weights = tensor(w).mul(2).unsqueeze(0).expand(40_000, -1).contiguous();
        var tokens = SeededDraws.Categorical(weights, SeededDraws.ForSeed(3));
        var counts = bincount(tokens, minlength: 5).to(ScalarType.Float64).div(40_000.0).data<double>().ToArray();
        Assert.Equal(0, counts[1]);
        Assert.Equal(0, counts[4]);
        for (int v = 0; v < 5; v++)
            Assert.True(Math.Abs(counts[v] - w[v]) < 0.012, $"token {v}: rate {counts[v]:F4} vs {w[v]}");  // > 5σ for n = 40k
    }

    [Fact]
    public void CategoricalIsInverseCdfOfOneUniformPerRow()
    {
        // the token is the first v with C_v > u·C_{V−1}, u the row's uniform from the same seed
        using var scope = NewDisposeScope();
        var weights = rand([64, 7], generator: new Generator(5)).pow(3);
        var tokens = SeededDraws.Categorical(weights, SeededDraws.ForSeed(9)).data<long>().ToArray();
        var u = SeededDraws.Uniform([64, 1], SeededDraws.ForSeed(9)).data<double>().ToArray();
        var w = weights.to(ScalarType.Float64).data<double>().ToArray();
        for (int r = 0; r < 64; r++)
        {
            var row = w.AsSpan(r * 7, 7).ToArray();
            double total = 0, cumulative = 0;
            foreach (var x in row) total += x;                                         // sequential, as cumsum on the CPU
            double target = u[r] * total;
            int expected = 0;
            while (cumulative + row[expected] <= target) cumulative += row[expected++];
            Assert.Equal(expected, tokens[r]);
        }
    }

    [Fact]
    public void ChunkingTheCdfNeverChangesTheDraws()
    {
        using var scope = NewDisposeScope();
        var weights = rand([23, 50], generator: new Generator(8)).pow(4);
        var whole = SeededDraws.Categorical(weights, SeededDraws.ForSeed(2));
        foreach (long chunk in new long[] { 1, 50, 149, 400 })                                        // 1, 1, 2 and 8 rows per block
            Assert.True(Fixture.Same(whole, SeededDraws.CategoricalInChunks(weights, SeededDraws.ForSeed(2), chunk)), $"chunk {chunk}");
        Assert.Equal([0L], SeededDraws.Categorical(zeros(0, 50), SeededDraws.ForSeed(2)).shape);
    }

    [Fact]
    public void TheSameSeedGivesTheSameDraws()
    {
        using var scope = NewDisposeScope();
        var weights = rand([32, 50], generator: new Generator(1));
        Assert.True(Fixture.Same(SeededDraws.Categorical(weights, SeededDraws.ForSeed(4)), SeededDraws.Categorical(weights, SeededDraws.ForSeed(4))));
        Assert.False(Fixture.Same(SeededDraws.Categorical(weights, SeededDraws.ForSeed(4)), SeededDraws.Categorical(weights, SeededDraws.ForSeed(5))));
    }

    [Fact]
    public void FillNormalEqualsAnInPlaceNormalOnTheCpu()
    {
        using var scope = NewDisposeScope();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float64 })
        {
            var expected = empty([37, 11], dtype: dtype).normal_(0, 0.02, new Generator(7));
            var actual = zeros([37, 11], dtype: dtype);
            SeededDraws.FillNormal(actual, 0, 0.02, SeededDraws.ForSeed(7));
            Assert.True(Fixture.Same(expected, actual), dtype.ToString());
        }
    }

    [Fact]
    public void TemperatureSamplingNeedsAGenerator()
    {
        using var scope = NewDisposeScope();
        var logits = randn([3, 10], generator: new Generator(2));
        Assert.Throws<ArgumentNullException>(() => TokenChoice.Choose(logits, 0.7, null, null, ConfidenceKind.Probability, null));
        Assert.Throws<ArgumentNullException>(() => TokenChoice.SampleTempered(logits, 0.7, null));
        Assert.True(Fixture.Same(logits.argmax(-1), TokenChoice.SampleTempered(logits, 0, null)));   // greedy needs none
    }
}
