namespace OpenDllm.Tests.Cli;

/// <summary>`opendllm compare`'s option checks that run before any model is loaded.</summary>
public sealed class CompareCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-compare-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("16,x")]
    [InlineData("16,0")]
    [InlineData("")]
    public void ABadFixedLengthListIsAOneLineErrorNamingTheOption(string list)
    {
        var (code, _, err) = CliCapture.Run("compare", $"a={_dir}", "--fixed-lengths", list, "--output", Path.Combine(_dir, "out"));
        Assert.NotEqual(0, code);
        Assert.Contains("--fixed-lengths", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }
}
