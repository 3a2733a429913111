using OpenDllm.Sampling;

namespace OpenDllm.Tests.Sampling;

/// <summary>NaN, ±∞ and out-of-range sampler options are refused with one line naming the option and the value.</summary>
public class SamplerOptionValidationTests
{
    public static IEnumerable<object[]> BadOptions()
    {
        foreach (var v in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.5 })
        {
            yield return ["temperature", v, (Action)(() => new MaskedDiffusionSampler(new() { Temperature = v }))];
            yield return ["temperature", v, (Action)(() => new LladaSampler(new() { Temperature = v }))];
            yield return ["temperature", v, (Action)(() => new FastDllmSampler(new() { Temperature = v }))];
            yield return ["temperature", v, (Action)(() => new BlockDiffusionSampler(new() { Temperature = v }))];
            yield return ["temperature", v, (Action)(() => new AutoregressiveSampler(new() { Temperature = v }))];
            yield return ["alg_temp", v, (Action)(() => new MaskedDiffusionSampler(new() { AlgTemp = v }))];
            yield return ["top_p", v, (Action)(() => new MaskedDiffusionSampler(new() { TopP = v }))];
            yield return ["top_p", v, (Action)(() => new FastDllmSampler(new() { TopP = v }))];
            yield return ["top_p", v, (Action)(() => new AutoregressiveSampler(new() { TopP = v }))];
            yield return ["threshold", v, (Action)(() => new FastDllmSampler(new() { Threshold = v }))];
            yield return ["factor", v, (Action)(() => new FastDllmSampler(new() { Factor = v }))];
            yield return ["temperature", v, (Action)(() => SamplerFactory.Create("p2", new SamplerSettings { Temperature = v }))];
            yield return ["threshold", v, (Action)(() => SamplerFactory.Create("fast-dllm-dual", new SamplerSettings { Threshold = v }))];
        }
    }

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void IsRefusedWithTheOptionAndValueOnOneLine(string option, double value, Action build)
    {
        var error = Assert.ThrowsAny<ArgumentException>(build);
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith(option + " must be", error.Message);
        Assert.EndsWith("got " + SamplerOptionChecks.Show(value), error.Message);
    }

    [Theory]
    [InlineData("llada", "top_p")]
    [InlineData("block", "top_k")]
    [InlineData("p2", "alg_temp")]
    [InlineData("origin", "alg_temp")]
    [InlineData("fast-dllm-dual", "alg_temp")]
    [InlineData("maskgit_plus", "factor")]
    public void TheFactoryRefusesAKnobTheSamplerWouldIgnore(string sampler, string option)
    {
        var settings = option switch
        {
            "top_p" => new SamplerSettings { TopP = 0.9 },
            "top_k" => new SamplerSettings { TopK = 20 },
            "alg_temp" => new SamplerSettings { AlgTemp = 0.5 },
            _ => new SamplerSettings { Factor = 1.0 },
        };
        var error = Assert.Throws<ArgumentException>(() => SamplerFactory.Create(sampler, settings));
        Assert.StartsWith($"{option} = ", error.Message);
        Assert.Contains($"not used by the {sampler} sampler", error.Message);
        _ = SamplerFactory.Create(option == "factor" ? "fast-dllm-dual" : option == "alg_temp" ? "entropy" : "maskgit_plus", settings);   // where it is used
    }

    [Theory]
    [InlineData(UnmaskingAlgorithm.P2)]
    [InlineData(UnmaskingAlgorithm.Origin)]
    public void AlgTempIsRefusedWhereTheAlgorithmIgnoresIt(UnmaskingAlgorithm algorithm)
    {
        var error = Assert.Throws<ArgumentException>(() => new MaskedDiffusionSampler(new() { Algorithm = algorithm, AlgTemp = 0.5 }));
        Assert.StartsWith("alg_temp = 0.5 is not used by " + algorithm.ToString().ToLowerInvariant(), error.Message);
    }

    [Fact]
    public void SettingsValidateTheirCounts()
    {
        Assert.Equal("steps must be ≥ 1, got 0", Assert.Throws<ArgumentException>(() => new SamplerSettings { Steps = 0 }.Validate()).Message);
        Assert.Equal("block_length must be ≥ 1, got -2", Assert.Throws<ArgumentException>(() => new SamplerSettings { BlockLength = -2 }.Validate()).Message);
        new SamplerSettings().Validate();
    }

    [Fact]
    public void ValidEdgeValuesAreAccepted()
    {
        _ = new MaskedDiffusionSampler(new() { Temperature = 0, TopP = 1, TopK = 0, AlgTemp = 0 });
        _ = new FastDllmSampler(new() { Threshold = 1, Factor = 1e-9 });
        _ = new AutoregressiveSampler(new() { Temperature = 2, TopK = 5 });
    }

    [Fact]
    public void ShowsSpecialValuesReadably()
    {
        Assert.Equal("NaN", SamplerOptionChecks.Show(double.NaN));
        Assert.Equal("Infinity", SamplerOptionChecks.Show(double.PositiveInfinity));
        Assert.Equal("-Infinity", SamplerOptionChecks.Show(double.NegativeInfinity));
    }
}
