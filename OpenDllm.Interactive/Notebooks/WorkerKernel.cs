using System.ComponentModel;
using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Runs cells in a worker process (<see cref="NotebookWorker"/>) started with the run's <see cref="NotebookWorkerCommand"/>
/// and the name of a pipe, over which it sends one request per cell and mirrors the outputs the worker streams back. The
/// parent enforces the timeout (the worker and what it started are killed) and notices the worker dying (stack overflow,
/// <c>Environment.Exit</c>, an unhandled exception on another thread, a signal): the cell then fails with the reason and
/// keeps the outputs received so far. Anything the worker writes to its own stdout/stderr outside the captured console
/// (native code, the runtime's crash report) goes to the running cell's outputs, or to this process's stderr between cells.
/// </summary>
internal sealed class WorkerKernel(NotebookWorkerCommand command, string baseDirectory, NotebookRunOptions options) : ICellKernel
{
    const int TailChars = 64 * 1024;
    static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);
    static readonly TimeSpan StartupLimit = TimeSpan.FromMinutes(5);

    readonly object _gate = new();
    readonly StringBuilder _stderrTail = new();
    readonly TaskCompletionSource _pipeClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Process? _process;
    NamedPipeServerStream? _pipe;
    StreamWriter? _requests;
    Task _pumps = Task.CompletedTask;
    TaskCompletionSource<JsonObject>? _reply;
    CellOutputSink? _current;
    long _strayBytes;
    bool _strayTruncated;
    string? _crash, _stopped;
    int? _exitingCode;
    bool _exitingOnSignal;

    public async Task<CellExecution> ExecuteAsync(CellSubmission cell, CancellationToken cancellationToken)
    {
        var sink = new CellOutputSink();
        lock (_gate)
        {
            _current = sink;
            _strayBytes = 0;
            _strayTruncated = false;
        }
        string? error;
        var clock = new Stopwatch();
        try
        {
            await StartAsync(cancellationToken).ConfigureAwait(false);
            clock.Start();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (options.CellTimeout is { } timeout) limit.CancelAfter(timeout);
            var reply = await RequestAsync(new JsonObject
            {
                ["t"] = "cell", ["source"] = cell.Source, ["language"] = cell.Language, ["name"] = cell.Name,
                ["executionCount"] = cell.ExecutionCount,
            }, limit.Token).ConfigureAwait(false);
            error = (string?)reply["error"];
        }
        catch (OperationCanceledException)
        {
            var interrupted = cancellationToken.IsCancellationRequested || options.CellTimeout is null;
            Stop(interrupted ? "interrupted" : $"stopped when {cell.Name} timed out");
            await SettleAsync().ConfigureAwait(false);
            error = interrupted ? "interrupted; the notebook process was stopped"
                : InProcessKernel.TimeoutMessage(options.CellTimeout!.Value) + "; the notebook process was stopped";
            sink.Add(CellOutput.Error(interrupted ? "Interrupted" : "Timeout", error, [error]));
        }
        catch (WorkerGoneException e)
        {
            error = e.Message;
            sink.Add(CellOutput.Error("NotebookProcessExited", error, [error, .. e.Details]));
        }
        finally
        {
            lock (_gate) _current = null;
        }
        return new CellExecution(sink.Close(), error, clock.Elapsed);
    }

    public async Task<(string Source, string? Failure)> InjectedSourceAsync(IReadOnlyDictionary<string, string> parameters,
                                                                             CancellationToken cancellationToken)
    {
        var values = new JsonObject();
        foreach (var (name, value) in parameters) values[name] = value;
        try
        {
            var reply = await RequestAsync(new JsonObject { ["t"] = "inject", ["parameters"] = values }, cancellationToken).ConfigureAwait(false);
            return ((string)reply["source"]!, (string?)reply["failure"]);
        }
        catch (WorkerGoneException e)
        {
            return (NotebookParameters.InjectedSource(parameters, _ => null), e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Stop("interrupted");
            return (NotebookParameters.InjectedSource(parameters, _ => null), "interrupted; the notebook process was stopped");
        }
    }

    /// <summary>Starts the worker and waits for it to connect (within <see cref="StartupLimit"/>, not counted in the cell's timeout).</summary>
    async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_stopped is { } why) throw new WorkerGoneException($"the notebook process is not running ({why})", []);
        if (_process is not null) return;
        var name = "opendllm-nb-" + Guid.NewGuid().ToString("N")[..16];
        _pipe = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte,
                                          PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        var start = new ProcessStartInfo(command.FileName)
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Directory.GetCurrentDirectory(),
        };
        foreach (var argument in command.Arguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add(name);
        try { _process = Process.Start(start) ?? throw new Win32Exception("Process.Start returned nothing"); }
        catch (Win32Exception e)
        {
            _stopped = "it could not start";
            throw new WorkerGoneException($"the notebook process could not start ({command.FileName}: {e.Message})", []);
        }
        _process.StandardInput.Close();   // a cell reading the console gets end-of-file instead of waiting forever
        _pumps = Task.WhenAll(PumpAsync(_process.StandardOutput, "stdout"), PumpAsync(_process.StandardError, "stderr"));

        using var startup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        startup.CancelAfter(StartupLimit);
        try
        {
            var connected = _pipe.WaitForConnectionAsync(startup.Token);
            if (await Task.WhenAny(connected, _process.WaitForExitAsync(startup.Token)).ConfigureAwait(false) != connected)
            {
                startup.Token.ThrowIfCancellationRequested();
                throw await GoneAsync("the notebook process ended before it connected").ConfigureAwait(false);
            }
            await connected.ConfigureAwait(false);
            _requests = new StreamWriter(_pipe, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            _ = ReadRepliesAsync(new StreamReader(_pipe, new UTF8Encoding(false), false, 1 << 16, leaveOpen: true));
            await SendAsync(new JsonObject
            {
                ["t"] = "init", ["baseDirectory"] = baseDirectory, ["parameters"] = Values(options.Parameters),
                ["maxCellOutputBytes"] = options.MaxCellOutputBytes, ["maxNotebookOutputBytes"] = options.MaxNotebookOutputBytes,
            }).ConfigureAwait(false);
            await Task.WhenAny(_ready.Task, _pipeClosed.Task).WaitAsync(startup.Token).ConfigureAwait(false);
            if (!_ready.Task.IsCompleted) throw await GoneAsync("the notebook process ended while starting").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Stop("it did not start");
            throw await GoneAsync($"the notebook process was not ready within {StartupLimit.TotalMinutes:0} minutes").ConfigureAwait(false);
        }
    }

    static JsonObject Values(IReadOnlyDictionary<string, string> parameters)
    {
        var values = new JsonObject();
        foreach (var (name, value) in parameters) values[name] = value;
        return values;
    }

    async Task<JsonObject> RequestAsync(JsonObject request, CancellationToken cancellationToken)
    {
        if (_stopped is not null || _requests is null)
            throw new WorkerGoneException($"the notebook process is not running ({_stopped ?? "not started"})", []);
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _reply = reply;
        await SendAsync(request).ConfigureAwait(false);
        await Task.WhenAny(reply.Task, _pipeClosed.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (reply.Task.IsCompleted) return await reply.Task.ConfigureAwait(false);
        throw await GoneAsync(null).ConfigureAwait(false);
    }

    async Task SendAsync(JsonObject message)
    {
        try
        {
            await _requests!.WriteLineAsync(message.ToJsonString()).ConfigureAwait(false);
            await _requests.FlushAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // the worker is gone; the reply wait notices the closed pipe and says why
        }
    }

    /// <summary>Applies the worker's messages to the running cell's outputs until the pipe closes.</summary>
    async Task ReadRepliesAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                var message = JsonNode.Parse(line) as JsonObject ?? throw new InvalidDataException("a message must be a JSON object");
                lock (_gate)
                {
                    switch ((string?)message["t"])
                    {
                        case "ready": _ready.TrySetResult(); break;
                        case "stream": _current?.AppendStream((string)message["name"]!, (string)message["text"]!); break;
                        case "add": _current?.Add(CellOutput.FromWire(message["output"])); break;
                        case "replace": _current?.ReplaceAt((int)message["index"]!, CellOutput.FromWire(message["output"])); break;
                        case "done" or "injected": _reply?.TrySetResult(message); break;
                        case "crash": _crash ??= (string?)message["message"]; break;
                        case "exiting":
                            _exitingCode = (int?)message["code"];
                            _exitingOnSignal = (bool?)message["signal"] == true;
                            break;
                        default: throw new InvalidDataException($"unknown message type in {line[..Math.Min(line.Length, 80)]}");
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or JsonException or InvalidDataException
                                      or InvalidOperationException or FormatException)
        {
            lock (_gate) _crash ??= $"its messages could not be read: {e.Message}";
            Kill();
        }
        finally
        {
            _pipeClosed.TrySetResult();
        }
    }

    /// <summary>Relays what the worker writes to its own stdout/stderr (outside the captured console), in chunks as they come.</summary>
    async Task PumpAsync(StreamReader stream, string name)
    {
        var buffer = new char[8192];
        try
        {
            int count;
            while ((count = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                var text = new string(buffer, 0, count);
                lock (_gate)
                {
                    if (name == "stderr")
                    {
                        _stderrTail.Append(text);
                        if (_stderrTail.Length > TailChars) _stderrTail.Remove(0, _stderrTail.Length - TailChars);
                    }
                    if (_current is null) Console.Error.Write(text);
                    else if (!_strayTruncated)
                    {
                        var room = options.MaxCellOutputBytes - _strayBytes;
                        var bytes = OutputBudget.Utf8Length(text);
                        _strayBytes += bytes;
                        if (bytes <= room) _current.AppendStream(name, text);
                        else
                        {
                            _strayTruncated = true;
                            _current.AppendStream(name, OutputBudget.Utf8Prefix(text, room)
                                                        + $"\n[process output truncated after {OutputBudget.Size(options.MaxCellOutputBytes)} (the per-cell output cap)]\n");
                        }
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    /// <summary>Waits for the worker to end (killing it after a grace period) and says why it did.</summary>
    async Task<WorkerGoneException> GoneAsync(string? context)
    {
        _stopped ??= "it exited";
        await SettleAsync().ConfigureAwait(false);
        string[] tail;
        string? crash;
        int? exiting;
        bool signal;
        lock (_gate)
        {
            tail = _stderrTail.ToString().ReplaceLineEndings("\n").Split('\n');
            crash = _crash;
            exiting = _exitingCode;
            signal = _exitingOnSignal;
        }
        int? code = _process is { HasExited: true } p ? p.ExitCode : null;
        var message = WorkerExit.Describe(code, tail, crash, exiting, signal);
        if (context is not null) message = $"{context}: {message}";
        return new WorkerGoneException(message, tail.TakeLast(12).ToList());
    }

    /// <summary>Lets the worker end, then drains its stdout/stderr (bounded: a process it started may hold them open).</summary>
    async Task SettleAsync()
    {
        if (_process is null) return;
        try { await _process.WaitForExitAsync().WaitAsync(ExitGrace).ConfigureAwait(false); }
        catch (TimeoutException) { Kill(); }
        try { await _pumps.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); }
        catch (TimeoutException) { }
    }

    void Stop(string why)
    {
        _stopped ??= why;
        Kill();
    }

    void Kill()
    {
        try { _process?.Kill(entireProcessTree: true); }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException) { }
    }

    /// <summary>Closes the pipe (the worker ends on its own), killing it if it has not within the grace period.</summary>
    public void Dispose()
    {
        try { _requests?.Dispose(); } catch (IOException) { }
        _pipe?.Dispose();
        if (_process is not null)
        {
            if (!_process.WaitForExit(ExitGrace)) Kill();
            _process.WaitForExit(ExitGrace);
            _pumps.Wait(TimeSpan.FromSeconds(2));
            _process.Dispose();
        }
    }

    sealed class WorkerGoneException(string message, IReadOnlyList<string> details) : Exception(message)
    {
        public IReadOnlyList<string> Details => details;
    }
}
