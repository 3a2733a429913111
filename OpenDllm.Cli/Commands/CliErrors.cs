using OpenDllm.Checkpoints;
using OpenDllm.Runtime;

namespace OpenDllm.Cli.Commands;

/// <summary>Turns expected failures (bad input, TorchSharp load errors) into one line on stderr and exit code 1.</summary>
public static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is TorchLoadException or CheckpointMismatchException or IOException or InvalidDataException
                                      or ArgumentException or InvalidOperationException or NotSupportedException
                                      or UnauthorizedAccessException or FormatException or System.Text.Json.JsonException
                                      or System.Runtime.InteropServices.ExternalException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
