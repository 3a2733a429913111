namespace OpenDllm.Interactive.Notebooks;

/// <summary>One code cell handed to a kernel: its source (magics included), language, name in messages and execution count.</summary>
internal sealed record CellSubmission(string Source, string Language, string Name, int ExecutionCount);

/// <summary>
/// What a cell produced: its outputs (the error output included), when it failed the one-line reason, and how long the
/// cell itself ran when the kernel knows better than the caller (the worker's start-up is not the cell's time).
/// </summary>
internal sealed record CellExecution(IReadOnlyList<CellOutput> Outputs, string? Error, TimeSpan? Elapsed = null);

/// <summary>
/// Runs the code cells of one notebook run in one scripting session: <see cref="InProcessKernel"/> in this process,
/// <see cref="WorkerKernel"/> in a worker process. <see cref="NotebookRunner"/> decides which cells run and in what order.
/// </summary>
internal interface ICellKernel : IDisposable
{
    /// <summary>Runs one cell; a failure of the cell is reported in the result, never thrown.</summary>
    Task<CellExecution> ExecuteAsync(CellSubmission cell, CancellationToken cancellationToken);

    /// <summary>
    /// The injected parameters cell's source, each value typed as the parameters cell (already run) declared it; on a value
    /// that does not fit, an untyped source and the reason.
    /// </summary>
    Task<(string Source, string? Failure)> InjectedSourceAsync(IReadOnlyDictionary<string, string> parameters, CancellationToken cancellationToken);
}
