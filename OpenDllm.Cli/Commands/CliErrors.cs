using OpenDllm.Checkpoints;
using OpenDllm.Runtime;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// Turns every failure into one line on stderr and a non-zero exit code; the .NET (and C++) stack trace only with
/// <c>--verbose</c> (or <c>OPENDLLM_VERBOSE=1</c>). Exit codes: <see cref="ExitCodes"/>.
/// </summary>
public static class CliErrors
{
    /// <summary>Print stack traces as well (set by <c>--verbose</c>).</summary>
    public static bool Verbose { get; set; } = Environment.GetEnvironmentVariable("OPENDLLM_VERBOSE") == "1";

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Report(e, internalError: false);
            return ExitCodes.Error;
        }
        catch (Exception e)
        {
            Report(e, internalError: true);
            return ExitCodes.Internal;
        }
    }

    /// <summary>Failures a user's input or environment can cause (bad files, values, devices, missing libraries, memory).</summary>
    static bool IsUserError(Exception e) =>
        e is TorchLoadException or CheckpointMismatchException or IOException or InvalidDataException or ArgumentException
            or InvalidOperationException or NotSupportedException or UnauthorizedAccessException or FormatException
            or System.Text.Json.JsonException or System.Runtime.InteropServices.ExternalException or OutOfMemoryException
            or OperationCanceledException or TimeoutException or KeyNotFoundException;

    static void Report(Exception e, bool internalError)
    {
        var message = OneLine(e);
        Console.Error.WriteLine(internalError
            ? $"error: internal error ({e.GetType().Name}): {message}" + (Verbose ? "" : " (rerun with --verbose for the stack trace)")
            : $"error: {message}");
        if (Verbose) Console.Error.WriteLine(e.ToString());
    }

    /// <summary>
    /// The first line of the message: libtorch errors (<see cref="System.Runtime.InteropServices.ExternalException"/>) carry
    /// C++ frames after it. An out-of-memory failure says so plainly.
    /// </summary>
    public static string OneLine(Exception e)
    {
        var text = e.Message;
        if (e is OutOfMemoryException) text = $"out of memory ({text.Split('\n')[0].Trim()})";
        var first = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? e.GetType().Name;
        const string Cxx = "Exception raised from";
        int cut = first.IndexOf(Cxx, StringComparison.Ordinal);
        return cut > 0 ? first[..cut].TrimEnd() : first;
    }
}

/// <summary>The exit codes of <c>opendllm</c>.</summary>
public static class ExitCodes
{
    /// <summary>Finished.</summary>
    public const int Ok = 0;
    /// <summary>Bad input or a failure the message explains.</summary>
    public const int Error = 1;
    /// <summary>Command-line usage error (unknown option, missing argument).</summary>
    public const int Usage = 2;
    /// <summary>A bug in OpenDllm: the message names the exception; <c>--verbose</c> shows where.</summary>
    public const int Internal = 3;
    /// <summary>Training stopped by SIGINT/SIGTERM after saving a checkpoint (resume by running it again).</summary>
    public const int Interrupted = 130;
}
