using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The worker process of an isolated run (<see cref="NotebookRunOptions.Worker"/>): it connects to the pipe its parent
/// names, runs the cells the parent sends one at a time in one scripting session (<see cref="InProcessKernel"/>, console
/// captured, output capped) and streams every output back as it happens. Whatever kills it — a stack overflow,
/// <c>Environment.Exit</c>, an exception on a background thread, the parent's timeout — the parent keeps the outputs
/// received so far and fails the cell with the reason. After <c>init</c> it compiles a throwaway script and answers
/// <c>ready</c>, so that loading the compiler does not count towards the first cell's timeout. Requests: <c>init</c> (baseDirectory, parameters,
/// maxCellOutputBytes, maxNotebookOutputBytes), <c>cell</c> (source, language, name, executionCount), <c>inject</c>.
/// The worker ends when its parent closes the pipe (or goes away).
/// </summary>
public static class NotebookWorker
{
    /// <summary>Runs the worker until the parent closes the pipe; returns the process exit code.</summary>
    /// <param name="pipeName">The pipe the parent created (the last argument of the worker command).</param>
    /// <param name="htmlRenderer">HTML for values (as <see cref="NotebookRunner"/>'s); default: escaped text in a &lt;pre&gt;.</param>
    /// <param name="host">The packages <c>#r "nuget: …"</c> may name (default: those of this process).</param>
    public static async Task<int> RunAsync(string pipeName, Func<object, string?>? htmlRenderer = null, HostPackages? host = null)
    {
        using var pipe = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        await pipe.ConnectAsync(60_000).ConfigureAwait(false);
        using var reader = new StreamReader(pipe, new UTF8Encoding(false), false, 1 << 16, leaveOpen: true);
        using var channel = new WorkerChannel(pipe);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);   // the parent decides

        var init = await ReadAsync(reader).ConfigureAwait(false) ?? throw new InvalidDataException("the parent closed the pipe before init");
        var parameters = (init["parameters"] as JsonObject ?? []).ToDictionary(p => p.Key, p => (string)p.Value!, StringComparer.Ordinal);
        var budget = new OutputBudget((long)init["maxCellOutputBytes"]!, (long)init["maxNotebookOutputBytes"]!);
        using var kernel = new InProcessKernel(new ValueRenderer(htmlRenderer ?? ValueRenderer.DefaultHtml), host ?? HostPackages.Current,
                                               (string)init["baseDirectory"]!, parameters, timeout: null, budget, channel);
        using var console = ConsoleCapture.Install();
        try { await kernel.WarmUpAsync().ConfigureAwait(false); }
        catch (Exception e) { Console.Error.WriteLine($"note: the scripting warm-up failed ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")})"); }
        channel.Send(new JsonObject { ["t"] = "ready" });

        int running = 0, terminated = 0;
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Volatile.Write(ref terminated, 1));
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            var message = e.ExceptionObject is Exception x ? $"{x.GetType().Name}: {x.Message.ReplaceLineEndings(" ")}" : $"{e.ExceptionObject}";
            channel.Send(new JsonObject { ["t"] = "crash", ["message"] = message });
            channel.Flush();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Volatile.Read(ref running) == 0) return;
            channel.Send(new JsonObject { ["t"] = "exiting", ["code"] = Environment.ExitCode, ["signal"] = Volatile.Read(ref terminated) == 1 });
            channel.Flush();
        };

        // The next request is read while a cell runs: the parent sends none then, so that read ends only when the parent
        // goes away, and then so does the worker (no cell outlives its run).
        var next = ReadAsync(reader);
        while (await next.ConfigureAwait(false) is { } request)
        {
            next = ReadAsync(reader);
            switch ((string?)request["t"])
            {
                case "cell":
                    var cell = new CellSubmission((string)request["source"]!, (string)request["language"]!, (string)request["name"]!,
                                                  (int)request["executionCount"]!);
                    Volatile.Write(ref running, 1);
                    var execution = kernel.ExecuteAsync(cell, CancellationToken.None);
                    if (await Task.WhenAny(execution, next).ConfigureAwait(false) != execution)
                    {
                        Volatile.Write(ref running, 0);
                        Environment.Exit(2);
                    }
                    Volatile.Write(ref running, 0);
                    channel.Send(new JsonObject { ["t"] = "done", ["error"] = (await execution.ConfigureAwait(false)).Error });
                    break;
                case "inject":
                    var overrides = (request["parameters"] as JsonObject ?? []).ToDictionary(p => p.Key, p => (string)p.Value!, StringComparer.Ordinal);
                    var (source, failure) = await kernel.InjectedSourceAsync(overrides, CancellationToken.None).ConfigureAwait(false);
                    channel.Send(new JsonObject { ["t"] = "injected", ["source"] = source, ["failure"] = failure });
                    break;
                default:
                    throw new InvalidDataException($"unknown request {request.ToJsonString()}");
            }
        }
        return 0;
    }

    static async Task<JsonObject?> ReadAsync(StreamReader reader) =>
        await reader.ReadLineAsync().ConfigureAwait(false) is { } line
            ? JsonNode.Parse(line) as JsonObject ?? throw new InvalidDataException("a request must be a JSON object")
            : null;
}
