using OpenDllm.Cli;

namespace OpenDllm.Tests.Cli;

/// <summary>`opendllm sample|infill --sampler fast-dllm-dkv --refresh-interval N` on a tiny trained checkpoint.</summary>
public sealed class DelayedCacheCliTests(TinyCheckpoint checkpoint) : IClassFixture<TinyCheckpoint>
{
    [Fact]
    public void SampleAndInfillRunWithTheDelayedCache()
    {
        Assert.Equal(0, CliApp.Run(["sample", checkpoint.Path, "--prompt", "def f(", "--length", "8", "--sampler", "fast-dllm-dkv",
                                    "--refresh-interval", "3", "--block-length", "4"]));
        var prefix = Path.Combine(checkpoint.Fixture.Root, $"prefix-{Guid.NewGuid():N}.py");
        var suffix = Path.Combine(checkpoint.Fixture.Root, $"suffix-{Guid.NewGuid():N}.py");
        File.WriteAllText(prefix, "def f(x):\n    return ");
        File.WriteAllText(suffix, "\n");
        Assert.Equal(0, CliApp.Run(["infill", checkpoint.Path, "--prefix-file", prefix, "--suffix-file", suffix, "--length", "6",
                                    "--sampler", "fast-dllm-dkv", "--refresh-interval", "2"]));
    }

    [Theory]
    [InlineData("fast-dllm-dual", "2")]
    [InlineData("maskgit_plus", "2")]
    [InlineData("fast-dllm-dkv", "0")]
    public void ARefreshIntervalTheSamplerCannotUseIsAnError(string sampler, string interval)
    {
        string[] command = ["sample", checkpoint.Path, "--prompt", "def f(", "--length", "4", "--steps", "4", "--sampler", sampler];
        Assert.Equal(1, CliApp.Run([.. command, "--refresh-interval", interval]));
        Assert.Equal(0, CliApp.Run(command));                                          // the same command without it runs
    }
}
