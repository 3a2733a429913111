using System.Diagnostics;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Runs a notebook headless, as the .NET Interactive C# kernel would: C# cells in order in one scripting session,
/// magics handled by <see cref="CellMagics"/>, console output as stream outputs, <c>display(x)</c> as display_data and
/// a cell's last expression as execute_result (text/html through the HTML hook, plus text/plain), and papermill-style
/// parameters injected after the "parameters" cell. It stops at the first failing cell, whose error output is recorded;
/// later cells stay unexecuted. The notebook given is not changed: the result holds an executed copy.
/// <para>Where cells run: in this process by default (fast, for trusted notebooks: a cell that overflows the stack or
/// calls <c>Environment.Exit</c> ends the caller too, and a timed-out cell can only be abandoned), or in a worker process
/// when <see cref="NotebookRunOptions.Worker"/> is set (what <c>opendllm notebook run</c> does): then such a cell fails
/// with the reason, a timed-out cell is stopped, and the run still returns the executed notebook. Either way each cell
/// has a timeout (<see cref="NotebookRunOptions.DefaultCellTimeout"/> unless set) and console output is capped per cell
/// and per notebook (<see cref="NotebookRunOptions.MaxCellOutputBytes"/>), the excess dropped with a note.</para>
/// <para>Cancelling a worker run stops the worker and returns the notebook with the running cell failed as interrupted;
/// cancelling an in-process run throws <see cref="OperationCanceledException"/>.</para>
/// </summary>
public sealed class NotebookRunner
{
    readonly ValueRenderer _renderer;
    readonly HostPackages _host;

    /// <param name="htmlRenderer">HTML for a value, or null when it has none (then only text/plain is written).
    /// Default: the value's text, HTML-escaped, in a &lt;pre&gt;.</param>
    /// <param name="host">The packages <c>#r "nuget: …"</c> may name (default: those of this process).</param>
    public NotebookRunner(Func<object, string?>? htmlRenderer = null, HostPackages? host = null)
    {
        _renderer = new ValueRenderer(htmlRenderer ?? ValueRenderer.DefaultHtml);
        _host = host ?? HostPackages.Current;
    }

    /// <summary>Reads <paramref name="path"/> (.ipynb or .dib) and runs it.</summary>
    public Task<NotebookRunResult> RunFileAsync(string path, NotebookRunOptions? options = null, CancellationToken cancellationToken = default) =>
        RunAsync(NotebookFile.Load(path), options, cancellationToken);

    /// <summary>Runs <paramref name="notebook"/>; throws ArgumentException for parameters it does not declare.</summary>
    public async Task<NotebookRunResult> RunAsync(Notebook notebook, NotebookRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NotebookRunOptions();
        Validate(notebook, options);
        var executed = notebook.Clone();
        var parametersCell = ParametersCell(executed);
        // As papermill does, new overrides replace the parameters a previous run injected (when re-running its output).
        var staleInjected = options.Parameters.Count > 0 ? executed.Cells.Where(c => c.Tags.Contains(NotebookParameters.InjectedTag)).ToHashSet() : [];
        foreach (var cell in executed.Cells.Where(c => c.Kind == CellKind.Code))
        {
            cell.Outputs.Clear();
            cell.ExecutionCount = null;
        }

        var baseDirectory = options.BaseDirectory
                            ?? (notebook.SourcePath is { } p ? Path.GetDirectoryName(Path.GetFullPath(p)) : null)
                            ?? Directory.GetCurrentDirectory();
        using ICellKernel kernel = options.Worker is { } worker
            ? new WorkerKernel(worker, baseDirectory, options)
            : new InProcessKernel(_renderer, _host, baseDirectory, options.Parameters, options.CellTimeout,
                                  new OutputBudget(options.MaxCellOutputBytes, options.MaxNotebookOutputBytes));
        var run = new Run(kernel);
        var results = new List<CellRunResult>();
        using var console = options.Worker is null ? ConsoleCapture.Install() : null;
        var cells = executed.Cells.ToList();
        executed.Cells.RemoveAll(staleInjected.Contains);
        for (int i = 0; i < cells.Count; i++)
        {
            if (staleInjected.Contains(cells[i])) continue;
            if (results.Any(r => r.Status == CellStatus.Failed))
            {
                results.Add(Report(options, new CellRunResult(i + 1, false, cells[i].Language, CellStatus.NotRun, TimeSpan.Zero, null)));
                continue;
            }
            results.Add(Report(options, await run.CellAsync(cells[i], i + 1, false, cancellationToken).ConfigureAwait(false)));
            if (i == parametersCell && options.Parameters.Count > 0 && results[^1].Status == CellStatus.Ok)
            {
                var (source, failure) = await kernel.InjectedSourceAsync(options.Parameters, cancellationToken).ConfigureAwait(false);
                var injected = new NotebookCell(CellKind.Code, NotebookLanguages.CSharp, source) { Id = CellIds.NewId() };
                injected.Tags.Add(NotebookParameters.InjectedTag);
                executed.Cells.Insert(executed.Cells.IndexOf(cells[i]) + 1, injected);
                results.Add(Report(options, await run.CellAsync(injected, i + 1, true, cancellationToken, failure).ConfigureAwait(false)));
            }
        }
        CellIds.Fill(executed);
        return new NotebookRunResult(executed, results, run.Sources);
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> for what would fail a run of <paramref name="notebook"/> before any cell runs:
    /// a setting out of range, overrides without a parameters cell, a parameter it does not declare (naming those it does).
    /// </summary>
    public static void Validate(Notebook notebook, NotebookRunOptions options)
    {
        options.Validate();
        if (options.Parameters.Count == 0) return;
        var where = notebook.SourcePath ?? "notebook";
        var parametersCell = ParametersCell(notebook);
        if (parametersCell < 0)
            throw new ArgumentException($"{where}: no cell is tagged \"{NotebookParameters.Tag}\", so there is nothing to override with "
                                        + string.Join(", ", options.Parameters.Keys));
        NotebookParameters.Validate(options.Parameters, NotebookParameters.DeclaredNames(notebook.Cells[parametersCell].Source), where);
    }

    static int ParametersCell(Notebook notebook) => notebook.Cells.FindIndex(c => c.IsCode && c.Tags.Contains(NotebookParameters.Tag));

    static CellRunResult Report(NotebookRunOptions options, CellRunResult result)
    {
        options.OnCellCompleted?.Invoke(result);
        return result;
    }

    /// <summary>The state of one run: the kernel, execution counter and recorded <c>#i</c> sources.</summary>
    sealed class Run(ICellKernel kernel)
    {
        int _executionCount;

        public List<string> Sources { get; } = new();

        /// <param name="failure">When set, the cell is not run and fails with this message (e.g. a parameter of the wrong type).</param>
        public async Task<CellRunResult> CellAsync(NotebookCell cell, int number, bool injected, CancellationToken cancellationToken,
                                                   string? failure = null)
        {
            var magics = cell.IsCode ? CellMagics.Parse(cell.Source) : null;
            var language = magics?.Language ?? cell.Language;
            if (magics is null || language == NotebookLanguages.Markdown)
                return new CellRunResult(number, injected, language, CellStatus.Skipped, TimeSpan.Zero, null);

            cell.ExecutionCount = ++_executionCount;
            var clock = Stopwatch.StartNew();
            CellExecution execution;
            if (failure is not null) execution = new CellExecution([CellOutput.Error("NotebookError", failure, [failure])], failure);
            else
            {
                execution = await kernel.ExecuteAsync(new CellSubmission(cell.Source, language, injected ? $"cell{number}+" : $"cell{number}",
                                                                         _executionCount), cancellationToken).ConfigureAwait(false);
                if (language == NotebookLanguages.CSharp && magics.Unsupported is null) Sources.AddRange(magics.Sources);
            }
            cell.Outputs.AddRange(execution.Outputs);
            return new CellRunResult(number, injected, language, execution.Error is null ? CellStatus.Ok : CellStatus.Failed,
                                     execution.Elapsed ?? clock.Elapsed, execution.Error);
        }
    }
}
