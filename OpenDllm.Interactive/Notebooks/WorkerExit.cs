namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Says in one line why a notebook worker process ended while a cell ran, from what the parent knows: the worker's last
/// message (an exception no thread handled, or the process ending from inside the cell), the runtime's last words on
/// stderr (stack overflow, fail-fast) and the exit code (a signal such as SIGKILL on Unix).
/// </summary>
internal static class WorkerExit
{
    const string Exited = "the notebook process exited";

    /// <param name="exitCode">The process exit code, when known.</param>
    /// <param name="stderrTail">The last lines the process wrote to stderr.</param>
    /// <param name="crash">"Type: message" of an exception no thread handled, as the worker reported it.</param>
    /// <param name="exitingCode">The exit code the worker reported while ending during the cell (Environment.Exit).</param>
    /// <param name="terminated">Whether the worker was ending because it received SIGTERM.</param>
    public static string Describe(int? exitCode, IReadOnlyList<string> stderrTail, string? crash, int? exitingCode, bool terminated = false)
    {
        if (crash is not null) return $"{Exited}: an exception was not handled on a background thread ({crash})";
        var overflow = stderrTail.ToList().FindIndex(l => l.Trim() == "Stack overflow.");
        if (overflow >= 0)
        {
            var frame = stderrTail.Skip(overflow + 1).Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at ", StringComparison.Ordinal));
            return $"{Exited}: stack overflow" + (frame is null ? "" : $" ({frame})");
        }
        if (exitingCode is { } code)
            return terminated ? $"{Exited}: it was told to end (SIGTERM) while the cell ran"
                : $"{Exited}: the cell called Environment.Exit({code})";
        if (stderrTail.FirstOrDefault(l => l.StartsWith("Process terminated.", StringComparison.Ordinal)) is { } failFast)
            return $"{Exited}: {failFast.Trim()}";
        var last = stderrTail.LastOrDefault(l => l.Trim().Length > 0)?.Trim();
        var signal = OperatingSystem.IsWindows() || exitCode is not (> 128 and < 160) ? null : SignalName(exitCode.Value - 128);
        return exitCode switch
        {
            null => Exited + (last is null ? "" : $": {last}"),
            _ when signal is not null => $"{Exited}: it was killed by {signal}" + (signal == "SIGKILL" ? " (out of memory, or killed from outside)" : "")
                                         + (last is null ? "" : $"; its last words: {last}"),
            _ => $"{Exited} with code {exitCode}" + (last is null ? "" : $": {last}"),
        };
    }

    static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL",
        11 => "SIGSEGV", 13 => "SIGPIPE", 15 => "SIGTERM", _ => $"signal {signal}",
    };
}
