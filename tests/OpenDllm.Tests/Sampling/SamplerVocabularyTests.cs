using OpenDllm.Evaluation;
using OpenDllm.Sampling;

namespace OpenDllm.Tests.Sampling;

/// <summary>One sampler vocabulary: the factory name, <see cref="ISampler.Name"/> and what results record are the same string.</summary>
public class SamplerVocabularyTests
{
    static readonly SamplerSettings Settings = new() { Steps = 8, BlockLength = 4 };

    [Fact]
    public void EveryFactoryNameIsTheNameOfWhatItBuilds()
    {
        foreach (var name in SamplerFactory.Names)
            Assert.Equal(name, SamplerFactory.Create(name, Settings).Name);
    }

    [Fact]
    public void AnAliasBuildsExactlyItsCanonicalConfigurationUnderTheCanonicalName()
    {
        Assert.NotEmpty(SamplerFactory.Aliases);
        foreach (var (alias, canonical) in SamplerFactory.Aliases)
        {
            Assert.DoesNotContain(alias, SamplerFactory.Names);
            Assert.Contains(canonical, SamplerFactory.Names);
            Assert.Equal(canonical, SamplerFactory.Canonical(alias));
            var fromAlias = SamplerFactory.Create(alias, Settings);
            var fromCanonical = SamplerFactory.Create(canonical, Settings);
            Assert.Equal(canonical, fromAlias.Name);
            Assert.Equal(fromCanonical.GetType(), fromAlias.GetType());
            Assert.Equal(OptionsOf(fromCanonical), OptionsOf(fromAlias));
        }
    }

    [Fact]
    public void NamesAreUnique()
    {
        Assert.Equal(SamplerFactory.Names.Count, SamplerFactory.Names.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>A directly built sampler reports a factory name too (every cache kind and remasking of each family).</summary>
    [Fact]
    public void DirectlyBuiltSamplersSpeakTheFactoryVocabulary()
    {
        ISampler[] samplers =
        [
            .. Enum.GetValues<UnmaskingAlgorithm>().Select(a => new MaskedDiffusionSampler(new() { Algorithm = a })),
            .. Enum.GetValues<FastDllmCache>().Select(c => new FastDllmSampler(new() { Cache = c })),
            .. Enum.GetValues<RemaskingStrategy>().Select(r => new LladaSampler(new() { Remasking = r })),
            .. Enum.GetValues<RemaskingStrategy>().SelectMany(r => new[] { true, false }.Select(c => new BlockDiffusionSampler(new() { Remasking = r, UseCache = c }))),
            new AutoregressiveSampler(new() { UseCache = true }), new AutoregressiveSampler(new() { UseCache = false }),
        ];
        foreach (var sampler in samplers) Assert.Contains(sampler.Name, SamplerFactory.Names);
        Assert.Equal(SamplerFactory.Names.Order(), samplers.Select(s => s.Name).Distinct().Order());
    }

    [Fact]
    public void EvaluationsRecordTheCanonicalName()
    {
        var options = new GenerationEvalOptions { Task = BenchmarkTask.HumanEval, Sampler = "fast-dllm" };
        Assert.Equal("fast-dllm-dual", options.Sampler);
        var error = Assert.Throws<ArgumentException>(() => new GenerationEvalOptions { Task = BenchmarkTask.HumanEval, Sampler = "fastdllm" });
        Assert.Contains("unknown sampler 'fastdllm'", error.Message);
    }

    static object OptionsOf(ISampler sampler) => sampler switch
    {
        MaskedDiffusionSampler s => s.Options,
        FastDllmSampler s => s.Options,
        LladaSampler s => s.Options,
        BlockDiffusionSampler s => s.Options,
        AutoregressiveSampler s => s.Options,
        _ => throw new ArgumentException(sampler.GetType().Name),
    };
}
