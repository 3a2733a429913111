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
    /// <summary>Overrides for the parameters cell (name → value as typed on the command line).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Longest a single cell may run; null for no limit. A cell past it fails the run.</summary>
    public TimeSpan? CellTimeout { get; init; }

    /// <summary>Folder that relative <c>#r "x.dll"</c> and <c>#load</c> paths start from (default: the notebook's folder).</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>Called after each cell (for progress lines).</summary>
    public Action<CellRunResult>? OnCellCompleted { get; init; }
}
