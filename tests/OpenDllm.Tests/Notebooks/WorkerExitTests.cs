using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

/// <summary>The one-line reason a notebook worker died, from its exit code, last stderr lines and last message.</summary>
public sealed class WorkerExitTests
{
    [Fact]
    public void AStackOverflowNamesTheRepeatedFrame()
    {
        string[] stderr = ["Stack overflow.", "Repeated 524038 times:", "--------------------------------", "   at Submission#1.F(Int32)", "---"];
        Assert.Equal("the notebook process exited: stack overflow (at Submission#1.F(Int32))", WorkerExit.Describe(134, stderr, null, null));
    }

    [Fact]
    public void AnUnhandledExceptionOnAnotherThreadIsNamed() =>
        Assert.Equal("the notebook process exited: an exception was not handled on a background thread (InvalidOperationException: boom)",
                     WorkerExit.Describe(134, ["Unhandled exception. System.InvalidOperationException: boom"], "InvalidOperationException: boom", null));

    [Fact]
    public void EnvironmentExitAndSigtermAreToldApart()
    {
        Assert.Equal("the notebook process exited: the cell called Environment.Exit(3)", WorkerExit.Describe(3, [], null, 3));
        Assert.Equal("the notebook process exited: it was told to end (SIGTERM) while the cell ran", WorkerExit.Describe(143, [], null, 143, terminated: true));
    }

    [Fact]
    public void SignalsAndPlainExitCodesAreSpelledOut()
    {
        if (!OperatingSystem.IsWindows())
            Assert.Equal("the notebook process exited: it was killed by SIGKILL (out of memory, or killed from outside)", WorkerExit.Describe(137, [], null, null));
        Assert.Equal("the notebook process exited with code 5: last words", WorkerExit.Describe(5, ["", "last words", " "], null, null));
        Assert.Equal("the notebook process exited: Process terminated. Fatal", WorkerExit.Describe(134, ["Process terminated. Fatal", "   at X"], null, null));
    }
}
