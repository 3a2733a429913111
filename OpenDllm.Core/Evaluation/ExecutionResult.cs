namespace OpenDllm.Evaluation;

/// <summary>How one sandboxed program ended.</summary>
public enum ExecutionStatus
{
    /// <summary>The program ran to the end without an exception (every assert held).</summary>
    Passed,
    /// <summary>It raised (an assert, a syntax error, a blocked call, a limit) or exited early.</summary>
    Failed,
    /// <summary>It ran past the program clock (or, as a safety net, the outside kill or the CPU-time limit).</summary>
    TimedOut,
    /// <summary>It could not be run or scored (the sandbox failed to start, the task has no tests, a bad sample).</summary>
    Error,
}

/// <summary>The outcome of one program: status, exit code, durations, truncated output and, for timeouts, which clock fired.</summary>
/// <param name="Status">Passed, failed, timed out or error.</param>
/// <param name="ExitCode">The process exit code (null when killed from outside or not started).</param>
/// <param name="DurationMs">Wall-clock time of the whole process, from start (isolation set-up and interpreter start included) to exit or kill.</param>
/// <param name="Stdout">Captured standard output, cut to <see cref="SandboxOptions.MaxOutputBytes"/>.</param>
/// <param name="Stderr">Captured standard error (the traceback on failure), cut likewise.</param>
/// <param name="ProgramMs">The program's own run time on the program clock (null when the runner did not report it).</param>
/// <param name="Note">Why a timeout or an unusual end was classified as it was (null otherwise).</param>
public sealed record ExecutionResult(ExecutionStatus Status, int? ExitCode, double DurationMs, string Stdout, string Stderr,
                                     double? ProgramMs = null, string? Note = null)
{
    /// <summary>True when <see cref="Status"/> is <see cref="ExecutionStatus.Passed"/>.</summary>
    public bool Passed => Status == ExecutionStatus.Passed;

    /// <summary>An error result that never ran (<paramref name="message"/> goes to <see cref="Stderr"/>).</summary>
    public static ExecutionResult Error(string message) => new(ExecutionStatus.Error, null, 0, "", message);

    /// <summary>The status as written in results files: passed, failed, timed_out, error.</summary>
    public string StatusName => StatusNames[(int)Status];

    static readonly string[] StatusNames = ["passed", "failed", "timed_out", "error"];
}
