using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Evaluation;

namespace OpenDllm.Tests.Evaluation;

public sealed class PassAtKTests
{
    [Theory]
    [InlineData(10, 3, 1, 0.3)]
    [InlineData(10, 3, 10, 1.0)]
    [InlineData(10, 0, 1, 0.0)]
    [InlineData(10, 1, 5, 0.5)]
    [InlineData(1, 1, 1, 1.0)]
    [InlineData(1, 0, 1, 0.0)]
    public void SpecVectors(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), 12);

    [Fact]
    public void MeanIsReportedOnlyWhenEveryProblemHasKSamples()
    {
        Assert.Equal(0.5, PassAtK.Mean([(1, 1), (1, 0)], 1));
        Assert.Null(PassAtK.Mean([(10, 3), (5, 1)], 10));
        Assert.Null(PassAtK.Mean([], 1));
        Assert.Equal((0.3 + 1.0) / 2, PassAtK.Mean([(10, 3), (10, 10)], 1)!.Value, 12);
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(0, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(5, 6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(5, 1, 6));
    }

    /// <summary>The product form equals 1 − C(n−c,k)/C(n,k) computed exactly with BigInteger, for n up to 200.</summary>
    [Fact]
    public void MatchesTheCombinatorialDefinition()
    {
        var cases = from n in Gen.Choose(1, 200)
                    from c in Gen.Choose(0, n)
                    from k in Gen.Choose(1, n)
                    select (n, c, k);
        Prop.ForAll(cases.ToArbitrary(), t =>
        {
            var (n, c, k) = t;
            var failAll = n - c < k ? BigInteger.Zero : Binomial(n - c, k);
            var exact = 1.0 - Ratio(failAll, Binomial(n, k));
            return Math.Abs(exact - PassAtK.Estimate(n, c, k)) < 1e-9;
        }).QuickCheckThrowOnFailure();
    }

    static BigInteger Binomial(int n, int k)
    {
        BigInteger result = BigInteger.One;
        for (int i = 1; i <= k; i++) result = result * (n - k + i) / i;
        return result;
    }

    static double Ratio(BigInteger numerator, BigInteger denominator)
    {
        // scale to keep 60 bits of the quotient, then divide in double
        var scaled = numerator * BigInteger.Pow(2, 60) / denominator;
        return (double)scaled / Math.Pow(2, 60);
    }
}
