namespace OpenDllm.Evaluation;

/// <summary>How one sandboxed program ended.</summary>
public enum ExecutionStatus
{
    /// <summary>The program ran to the end without an exception (every assert held).</summary>
    Passed,
    /// <summary>It raised (an assert, a syntax error, a blocked call, a limit) or exited early.</summary>
    Failed,
    /// <summary>It ran past the wall-clock timeout and its process group was killed.</summary>
    TimedOut,
    /// <summary>It could not be run or scored (the sandbox failed to start, the task has no tests, a bad sample).</summary>
    Error,
}

/// <summary>The outcome of one program: status, exit code, duration and truncated output.</summary>
/// <param name="Status">Passed, failed, timed out or error.</param>
/// <param name="ExitCode">The process exit code (null when killed or not started).</param>
/// <param name="DurationMs">Wall-clock time from start to exit or kill.</param>
/// <param name="Stdout">Captured standard output, cut to <see cref="SandboxOptions.MaxOutputBytes"/>.</param>
/// <param name="Stderr">Captured standard error (the traceback on failure), cut likewise.</param>
public sealed record ExecutionResult(ExecutionStatus Status, int? ExitCode, double DurationMs, string Stdout, string Stderr)
{
    /// <summary>True when <see cref="Status"/> is <see cref="ExecutionStatus.Passed"/>.</summary>
    public bool Passed => Status == ExecutionStatus.Passed;

    /// <summary>An error result that never ran (<paramref name="message"/> goes to <see cref="Stderr"/>).</summary>
    public static ExecutionResult Error(string message) => new(ExecutionStatus.Error, null, 0, "", message);

    /// <summary>The status as written in results files: passed, failed, timed_out, error.</summary>
    public string StatusName => StatusNames[(int)Status];

    static readonly string[] StatusNames = ["passed", "failed", "timed_out", "error"];
}
