using System.Diagnostics;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Scripting;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Runs a notebook headless, as the .NET Interactive C# kernel would: C# cells in order in one scripting session,
/// magics handled by <see cref="CellMagics"/>, console output as stream outputs, <c>display(x)</c> as display_data and
/// a cell's last expression as execute_result (text/html through the HTML hook, plus text/plain), and papermill-style
/// parameters injected after the "parameters" cell. It stops at the first failing cell, whose error output is recorded;
/// later cells stay unexecuted. The notebook given is not changed: the result holds an executed copy.
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
        var executed = notebook.Clone();
        var where = notebook.SourcePath ?? "notebook";
        var parametersCell = executed.Cells.FindIndex(c => c.IsCode && c.Tags.Contains(NotebookParameters.Tag));
        if (options.Parameters.Count > 0)
        {
            if (parametersCell < 0)
                throw new ArgumentException($"{where}: no cell is tagged \"{NotebookParameters.Tag}\", so there is nothing to override with "
                                            + string.Join(", ", options.Parameters.Keys));
            NotebookParameters.Validate(options.Parameters, NotebookParameters.DeclaredNames(executed.Cells[parametersCell].Source), where);
        }
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
        var globals = new NotebookGlobals(_renderer, options.Parameters);
        using var run = new Run(this, new ScriptSession(globals, _host, baseDirectory), globals, options, baseDirectory);
        var results = new List<CellRunResult>();
        using var console = ConsoleCapture.Install();
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
                string source;
                string? failure = null;
                try { source = NotebookParameters.InjectedSource(options.Parameters, run.Session.VariableType); }
                catch (ArgumentException e)
                {
                    source = NotebookParameters.InjectedSource(options.Parameters, _ => null);
                    failure = e.Message;
                }
                var injected = new NotebookCell(CellKind.Code, NotebookLanguages.CSharp, source) { Id = CellIds.NewId() };
                injected.Tags.Add(NotebookParameters.InjectedTag);
                executed.Cells.Insert(executed.Cells.IndexOf(cells[i]) + 1, injected);
                results.Add(Report(options, await run.CellAsync(injected, i + 1, true, cancellationToken, failure).ConfigureAwait(false)));
            }
        }
        CellIds.Fill(executed);
        return new NotebookRunResult(executed, results, run.Sources);
    }

    static CellRunResult Report(NotebookRunOptions options, CellRunResult result)
    {
        options.OnCellCompleted?.Invoke(result);
        return result;
    }

    /// <summary>A failure of the run rather than of the code (unsupported language, unknown package, timeout, …).</summary>
    sealed class CellException(string message, string ename = "NotebookError") : Exception(message)
    {
        public string EName => ename;
    }

    /// <summary>The state of one run: the scripting session, execution counter and recorded <c>#i</c> sources.</summary>
    sealed class Run(NotebookRunner runner, ScriptSession session, NotebookGlobals globals, NotebookRunOptions options, string baseDirectory)
        : IDisposable
    {
        readonly CellThread _thread = new("notebook cells");
        int _executionCount;

        public ScriptSession Session => session;

        public List<string> Sources { get; } = new();

        public void Dispose() => _thread.Dispose();

        /// <param name="failure">When set, the cell is not run and fails with this message (e.g. a parameter of the wrong type).</param>
        public async Task<CellRunResult> CellAsync(NotebookCell cell, int number, bool injected, CancellationToken cancellationToken,
                                                   string? failure = null)
        {
            var magics = cell.IsCode ? CellMagics.Parse(cell.Source) : null;
            var language = magics?.Language ?? cell.Language;
            if (magics is null || language == NotebookLanguages.Markdown)
                return new CellRunResult(number, injected, language, CellStatus.Skipped, TimeSpan.Zero, null);

            cell.ExecutionCount = ++_executionCount;
            var sink = new CellOutputSink();
            var clock = Stopwatch.StartNew();
            string? error = null;
            try
            {
                if (failure is not null) throw new CellException(failure);
                Prepare(magics, language, sink);
                await ExecuteAsync(magics.Code, injected ? $"cell{number}+" : $"cell{number}", sink, cancellationToken).ConfigureAwait(false);
                if (magics.Time) sink.AppendStream("stdout", $"Wall time: {clock.Elapsed.TotalMilliseconds:0.###}ms\n");
                if (session.ReturnValue is { } value) sink.Add(runner._renderer.Render(value, OutputType.ExecuteResult, cell.ExecutionCount));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                (var output, error) = ErrorOutput(e);
                sink.Add(output);
            }
            cell.Outputs.AddRange(sink.Close());
            return new CellRunResult(number, injected, language, error is null ? CellStatus.Ok : CellStatus.Failed, clock.Elapsed, error);
        }

        void Prepare(CellMagics magics, string language, CellOutputSink sink)
        {
            if (magics.Unsupported is { } why) throw new CellException(why);
            if (language == NotebookLanguages.FSharp)
                throw new CellException("F# cells are not run by the headless runner (it runs C# through Roslyn scripting); "
                                        + "run F# code with `dotnet fsi` against the built OpenDllm assemblies instead");
            if (language != NotebookLanguages.CSharp)
                throw new CellException($"{language} cells are not supported by the headless runner (it runs C# cells)");
            foreach (var (id, version) in magics.NugetReferences)
            {
                if (!runner._host.Carries(id, out var carried, out var carriedVersion))
                    throw new CellException($"package {id} is not available in the headless runner; it carries: {runner._host.Describe()}");
                session.AddReferences(runner._host.AssemblyClosure([carried]));
                if (version is not null && !version.Contains('*') && carriedVersion is not null && version != carriedVersion)
                    sink.AppendStream("stderr", $"note: #r \"nuget: {id}, {version}\" uses the {carried} {carriedVersion} this runner carries\n");
            }
            foreach (var path in magics.AssemblyReferences)
            {
                var full = Path.GetFullPath(path, baseDirectory);
                if (!File.Exists(full)) throw new CellException($"#r \"{path}\": assembly not found ({full})");
                session.AddReferences([full]);
            }
            Sources.AddRange(magics.Sources);
        }

        async Task ExecuteAsync(string code, string name, CellOutputSink sink, CancellationToken cancellationToken)
        {
            globals.Sink = sink;
            var task = _thread.RunAsync(() =>
            {
                ConsoleCapture.RouteTo(sink);
                return session.RunAsync(code, name, cancellationToken);
            });
            if (options.CellTimeout is { } timeout)
            {
                var finished = await Task.WhenAny(task, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (finished != task)
                    throw new CellException($"the cell did not finish within {timeout.TotalSeconds:0.###} s (the per-cell timeout)", "Timeout");
            }
            await task.ConfigureAwait(false);
        }
    }

    /// <summary>The nbformat error output for <paramref name="e"/>, and the one-line message for "cell N failed: …".</summary>
    static (CellOutput Output, string Message) ErrorOutput(Exception e)
    {
        while (e is (TargetInvocationException or AggregateException) && e.InnerException is not null) e = e.InnerException;
        switch (e)
        {
            case CompilationErrorException compile:
                var diagnostics = compile.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
                if (diagnostics.Count == 0) diagnostics.Add(compile.Message);
                return (CellOutput.Error("CompilationError", string.Join("\n", diagnostics), diagnostics), diagnostics[0]);
            case CellException cell:
                return (CellOutput.Error(cell.EName, e.Message, [e.Message]), e.Message);
            default:
                var trace = e.ToString().ReplaceLineEndings("\n").Split('\n')
                    .TakeWhile(l => !l.TrimStart().StartsWith("at Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal)).ToList();
                return (CellOutput.Error(e.GetType().FullName ?? e.GetType().Name, e.Message, trace), $"{e.GetType().Name}: {e.Message}");
        }
    }
}
