namespace OpenDllm.Evaluation;

/// <summary>
/// Limits for running model-written programs (SPEC §7.3: timeout 3.0 s as in openai/human-eval). Every limit is
/// per program; programs run in parallel on <see cref="Workers"/> workers. Override with <c>with</c>.
/// </summary>
public sealed record SandboxOptions
{
    /// <summary>
    /// The program clock, seconds (official harness: 3.0). Like human-eval's <c>signal.setitimer</c> around <c>exec</c>, it
    /// starts inside the Python process just before the program runs, so process start, isolation set-up and interpreter
    /// start do not count; a program still running when it fires is <see cref="ExecutionStatus.TimedOut"/>.
    /// </summary>
    public double TimeoutSeconds { get; init; } = 3.0;

    /// <summary>
    /// The outside wall-clock limit, seconds, after which the whole process group (and PID namespace) is killed; a safety net
    /// for programs the program clock cannot stop (stuck inside one C call, or blocking SIGALRM). null = timeout + 10 s.
    /// </summary>
    public double? KillAfterSeconds { get; init; }

    /// <summary>CPU-time limit (RLIMIT_CPU), seconds; null = ceil(timeout) + 1. Running out of it counts as a timeout.</summary>
    public int? CpuSeconds { get; init; }

    /// <summary>Address-space limit (RLIMIT_AS), bytes: 2 GiB.</summary>
    public long MemoryBytes { get; init; } = 2L << 30;

    /// <summary>Process/thread limit (RLIMIT_NPROC) for the sandbox user; applied when the sandbox runs as its own user.</summary>
    public int MaxProcesses { get; init; } = 64;

    /// <summary>Largest file a program may write (RLIMIT_FSIZE), bytes: 10 MiB.</summary>
    public long MaxFileBytes { get; init; } = 10L << 20;

    /// <summary>Size of each private tmpfs (<c>/tmp</c>, <c>/var/tmp</c>, <c>/dev/shm</c>) under a mount-namespace isolation, bytes: 64 MiB.</summary>
    public long TmpfsBytes { get; init; } = 64L << 20;

    /// <summary>Captured stdout and stderr are each cut to this many bytes (a marker says so).</summary>
    public int MaxOutputBytes { get; init; } = 4096;

    /// <summary>Programs run at once; default <see cref="Environment.ProcessorCount"/>.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>The Python interpreter (a name on PATH or a path); resolved once to its real executable.</summary>
    public string Python { get; init; } = "python3";

    /// <summary>Effective CPU-time limit in whole seconds.</summary>
    public int EffectiveCpuSeconds => CpuSeconds ?? (int)Math.Ceiling(TimeoutSeconds) + 1;

    /// <summary>Effective outside kill limit in seconds.</summary>
    public double EffectiveKillAfterSeconds => KillAfterSeconds ?? TimeoutSeconds + 10;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid field.</summary>
    public SandboxOptions Validate()
    {
        if (!(TimeoutSeconds > 0 && TimeoutSeconds <= 3600)) throw new ArgumentOutOfRangeException(nameof(TimeoutSeconds), TimeoutSeconds, "must be in (0, 3600]");
        if (KillAfterSeconds is { } kill && !(kill >= TimeoutSeconds && kill <= 7200))
            throw new ArgumentOutOfRangeException(nameof(KillAfterSeconds), KillAfterSeconds, "must be at least TimeoutSeconds and at most 7200");
        if (CpuSeconds is <= 0) throw new ArgumentOutOfRangeException(nameof(CpuSeconds), CpuSeconds, "must be positive");
        if (MemoryBytes < 64L << 20) throw new ArgumentOutOfRangeException(nameof(MemoryBytes), MemoryBytes, "must be at least 64 MiB");
        if (MaxProcesses < 1) throw new ArgumentOutOfRangeException(nameof(MaxProcesses), MaxProcesses, "must be positive");
        if (MaxFileBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxFileBytes), MaxFileBytes, "must be non-negative");
        if (TmpfsBytes < 1L << 20) throw new ArgumentOutOfRangeException(nameof(TmpfsBytes), TmpfsBytes, "must be at least 1 MiB");
        if (MaxOutputBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxOutputBytes), MaxOutputBytes, "must be non-negative");
        if (Workers < 1) throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "must be positive");
        if (string.IsNullOrWhiteSpace(Python)) throw new ArgumentOutOfRangeException(nameof(Python), Python, "must name an interpreter");
        return this;
    }
}
