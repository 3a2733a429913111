using OpenDllm.Cli;

namespace OpenDllm.Tests.Cli;

/// <summary>Runs the CLI in-process with stdout and stderr captured (tests using it belong to the "Console" collection).</summary>
internal static class CliCapture
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errWriter);
        try { return (CliApp.Run(args), outWriter.ToString(), errWriter.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }
}
