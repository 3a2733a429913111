namespace OpenDllm.Tests.Cli;

/// <summary>
/// `opendllm bench scalars`: its one-line refusals. The stress run itself is not run here: it forces GCs without pause
/// in this process, which would slow the tests running beside it and expose them to the very race it measures
/// (docs/torchsharp-scalars.md has its numbers).
/// </summary>
[Collection("Console")]
public class BenchScalarsCommandTests
{
    [Theory]
    [InlineData("--iterations", "0")]
    [InlineData("--workers", "0")]
    public void ANonPositiveCountIsRefusedByName(string option, string value)
    {
        var (code, _, err) = CliCapture.Run("bench", "scalars", option, value);
        Assert.Equal(1, code);
        Assert.Contains($"{option} {value}: must be ≥ 1", err);
    }

    [Fact]
    public void AnUnknownModeIsRefused()
    {
        var (code, _, err) = CliCapture.Run("bench", "scalars", "--mode", "sometimes");
        Assert.NotEqual(0, code);
        Assert.Contains("sometimes", err);
    }
}
