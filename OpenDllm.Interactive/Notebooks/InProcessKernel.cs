using System.Diagnostics;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Scripting;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Runs cells in this process, on one dedicated thread (<see cref="CellThread"/>), in one <see cref="ScriptSession"/>:
/// handles the magics (<c>#r</c>, <c>#!time</c>, unsupported kernels), renders the last expression and turns exceptions
/// into nbformat error outputs. A cell past <paramref name="timeout"/> is abandoned: it fails, and what it writes later is
/// dropped, but .NET cannot stop it. The notebook worker uses this kernel without a timeout (its parent enforces one).
/// </summary>
internal sealed class InProcessKernel(ValueRenderer renderer, HostPackages host, string baseDirectory,
                                      IReadOnlyDictionary<string, string> parameters, TimeSpan? timeout, OutputBudget budget,
                                      ICellOutputListener? listener = null) : ICellKernel
{
    readonly CellThread _thread = new("notebook cells");
    readonly NotebookGlobals _globals = new(renderer, parameters);
    ScriptSession? _session;

    ScriptSession Session => _session ??= new ScriptSession(_globals, host, baseDirectory);

    public void Dispose() => _thread.Dispose();

    /// <summary>Loads and compiles the scripting engine ahead of the first cell (the worker does this before it reports ready).</summary>
    public Task WarmUpAsync() => _thread.RunAsync(() => Session.WarmUpAsync());

    public async Task<CellExecution> ExecuteAsync(CellSubmission cell, CancellationToken cancellationToken)
    {
        var sink = new CellOutputSink(budget, listener);
        var clock = Stopwatch.StartNew();
        string? error = null;
        try
        {
            var magics = CellMagics.Parse(cell.Source);
            Prepare(magics, cell.Language, sink);
            await RunAsync(magics.Code, cell.Name, sink, cancellationToken).ConfigureAwait(false);
            if (magics.Time) sink.AppendStream("stdout", $"Wall time: {clock.Elapsed.TotalMilliseconds:0.###}ms\n");
            if (Session.ReturnValue is { } value) sink.Add(renderer.Render(value, OutputType.ExecuteResult, cell.ExecutionCount));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            (var output, error) = ErrorOutput(e);
            sink.Add(output);
        }
        return new CellExecution(sink.Close(), error);
    }

    public Task<(string Source, string? Failure)> InjectedSourceAsync(IReadOnlyDictionary<string, string> overrides, CancellationToken cancellationToken)
    {
        try { return Task.FromResult<(string, string?)>((NotebookParameters.InjectedSource(overrides, Session.VariableType), null)); }
        catch (ArgumentException e) { return Task.FromResult<(string, string?)>((NotebookParameters.InjectedSource(overrides, _ => null), e.Message)); }
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
            if (!host.Carries(id, out var carried, out var carriedVersion))
                throw new CellException($"package {id} is not available in the headless runner; it carries: {host.Describe()}");
            Session.AddReferences(host.AssemblyClosure([carried]));
            if (version is not null && !version.Contains('*') && carriedVersion is not null && version != carriedVersion)
                sink.AppendStream("stderr", $"note: #r \"nuget: {id}, {version}\" uses the {carried} {carriedVersion} this runner carries\n");
        }
        foreach (var path in magics.AssemblyReferences)
        {
            var full = Path.GetFullPath(path, baseDirectory);
            if (!File.Exists(full)) throw new CellException($"#r \"{path}\": assembly not found ({full})");
            Session.AddReferences([full]);
        }
    }

    async Task RunAsync(string code, string name, CellOutputSink sink, CancellationToken cancellationToken)
    {
        _globals.Sink = sink;
        var session = Session;
        var task = _thread.RunAsync(() =>
        {
            ConsoleCapture.RouteTo(sink);
            return session.RunAsync(code, name, cancellationToken);
        });
        if (timeout is { } limit)
        {
            var finished = await Task.WhenAny(task, Task.Delay(limit, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (finished != task) throw new CellException(TimeoutMessage(limit), "Timeout");
        }
        await task.ConfigureAwait(false);
    }

    internal static string TimeoutMessage(TimeSpan limit) =>
        $"the cell did not finish within {limit.TotalSeconds:0.###} s (the per-cell timeout)";

    /// <summary>The nbformat error output for <paramref name="e"/>, and the one-line message for "cell N failed: …".</summary>
    internal static (CellOutput Output, string Message) ErrorOutput(Exception e)
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

/// <summary>A failure of the run rather than of the code (unsupported language, unknown package, timeout, …).</summary>
internal sealed class CellException(string message, string ename = "NotebookError") : Exception(message)
{
    public string EName => ename;
}
