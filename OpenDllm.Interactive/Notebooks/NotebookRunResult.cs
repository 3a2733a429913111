namespace OpenDllm.Interactive.Notebooks;

/// <summary>How a cell fared: ran, failed, skipped (markdown/raw), or not run because an earlier cell failed.</summary>
public enum CellStatus { Ok, Failed, Skipped, NotRun }

/// <summary>
/// One cell of a run. <see cref="Number"/> is the cell's 1-based position among all cells of the notebook as given; the
/// injected parameters cell carries the number of the parameters cell it follows and <see cref="Injected"/> = true.
/// </summary>
public sealed record CellRunResult(int Number, bool Injected, string Language, CellStatus Status, TimeSpan Elapsed, string? Error)
{
    public string Label => Injected ? $"cell {Number}+ (injected parameters)" : $"cell {Number}";
}

/// <summary>The executed notebook (outputs filled), each cell's result, and the first failure, if any.</summary>
public sealed record NotebookRunResult(Notebook Notebook, IReadOnlyList<CellRunResult> Cells, IReadOnlyList<string> Sources)
{
    public bool Success => Failure is null;

    public CellRunResult? Failure => Cells.FirstOrDefault(c => c.Status == CellStatus.Failed);

    /// <summary>"cell N failed: message", or null when every cell ran.</summary>
    public string? FailureMessage => Failure is { } f ? $"{f.Label} failed: {f.Error}" : null;
}

/// <summary>Settings of a <see cref="NotebookRunner"/> run.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>The per-cell timeout when none is given: 30 minutes.</summary>
    public static readonly TimeSpan DefaultCellTimeout = TimeSpan.FromMinutes(30);

    /// <summary>The longest timeout a run accepts (int.MaxValue milliseconds, about 24.8 days); use null for no limit.</summary>
    public static readonly TimeSpan MaxCellTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>Console output kept per cell by default: 8 MiB (UTF-8).</summary>
    public const long DefaultMaxCellOutputBytes = 8L << 20;

    /// <summary>Console output kept per notebook by default: 64 MiB (UTF-8).</summary>
    public const long DefaultMaxNotebookOutputBytes = 64L << 20;

    /// <summary>Overrides for the parameters cell (name → value as typed on the command line).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Longest a single cell may run (default <see cref="DefaultCellTimeout"/>; null for no limit). A cell past it fails
    /// the run. In a worker process the worker (and what it started) is stopped; in process .NET cannot stop the cell, only
    /// abandon it: its output is dropped while the run lasts, but the code keeps running (and printing) after it.
    /// </summary>
    public TimeSpan? CellTimeout { get; init; } = DefaultCellTimeout;

    /// <summary>Console output (stdout + stderr, UTF-8 bytes) kept per cell; the rest is dropped with a note in the cell's output.</summary>
    public long MaxCellOutputBytes { get; init; } = DefaultMaxCellOutputBytes;

    /// <summary>Console output kept for the whole notebook; past it, every later cell's output is dropped with a note.</summary>
    public long MaxNotebookOutputBytes { get; init; } = DefaultMaxNotebookOutputBytes;

    /// <summary>Folder that relative <c>#r "x.dll"</c> and <c>#load</c> paths start from (default: the notebook's folder).</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>
    /// Run the cells in a worker process started with this command (see <see cref="NotebookWorker"/>), so that a cell that
    /// overflows the stack, calls <c>Environment.Exit</c>, throws on a background thread or hangs fails with its number
    /// while the runner goes on to return the executed notebook. Null: run the cells in this process (trusted code only).
    /// </summary>
    public NotebookWorkerCommand? Worker { get; init; }

    /// <summary>Called after each cell (for progress lines).</summary>
    public Action<CellRunResult>? OnCellCompleted { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (CellTimeout is { } t && (t <= TimeSpan.Zero || t > MaxCellTimeout))
            throw new ArgumentOutOfRangeException(nameof(CellTimeout), t,
                $"CellTimeout must be positive and at most {MaxCellTimeout.TotalSeconds:0} s (null for no limit)");
        if (MaxCellOutputBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxCellOutputBytes), MaxCellOutputBytes, "MaxCellOutputBytes must be positive");
        if (MaxNotebookOutputBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxNotebookOutputBytes), MaxNotebookOutputBytes, "MaxNotebookOutputBytes must be positive");
    }
}

/// <summary>
/// How to start a notebook worker process: a program and its arguments, to which the runner appends the name of the pipe
/// the worker connects to. The worker's entry point calls <see cref="NotebookWorker.RunAsync"/> with that name
/// (<c>opendllm notebook worker PIPE</c> does).
/// </summary>
public sealed record NotebookWorkerCommand(string FileName, IReadOnlyList<string> Arguments);
