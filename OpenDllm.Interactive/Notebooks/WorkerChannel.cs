using System.Text;
using System.Text.Json.Nodes;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The notebook worker's side of its pipe: messages to the parent, one JSON object per line, written by a background
/// thread so that a cell never waits on the parent. Console text queued back to back for the same stream goes out as
/// one message. <see cref="Flush"/> writes what is queued on the calling thread, for the moments before the process
/// ends (an unhandled exception, <c>Environment.Exit</c>). Messages: <c>ready</c>, <c>stream</c> (name, text), <c>add</c> (output),
/// <c>replace</c> (index, output), <c>done</c> (error), <c>injected</c> (source, failure), <c>crash</c> (message),
/// <c>exiting</c> (code); see <see cref="WorkerKernel"/> for the parent's side.
/// </summary>
internal sealed class WorkerChannel : ICellOutputListener, IDisposable
{
    readonly StreamWriter _writer;
    readonly object _gate = new();        // guards _queue and _disposed
    readonly object _writeGate = new();   // one writer at a time
    readonly List<object> _queue = new(); // JsonObject or PendingStream
    readonly Thread _thread;
    bool _disposed, _broken;

    sealed class PendingStream(string name)
    {
        public string Name => name;
        public StringBuilder Text { get; } = new();
    }

    public WorkerChannel(Stream pipe)
    {
        _writer = new StreamWriter(pipe, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "notebook worker channel" };
        _thread.Start();
    }

    public void Stream(string name, string text)
    {
        lock (_gate)
        {
            if (_queue.Count > 0 && _queue[^1] is PendingStream pending && pending.Name == name) pending.Text.Append(text);
            else
            {
                var added = new PendingStream(name);
                added.Text.Append(text);
                _queue.Add(added);
            }
            Monitor.Pulse(_gate);
        }
    }

    public void Added(CellOutput output) => Send(new JsonObject { ["t"] = "add", ["output"] = output.ToWire() });

    public void Replaced(int index, CellOutput output) =>
        Send(new JsonObject { ["t"] = "replace", ["index"] = index, ["output"] = output.ToWire() });

    public void Send(JsonObject message)
    {
        lock (_gate)
        {
            _queue.Add(message);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Writes everything queued so far before returning.</summary>
    public void Flush() => Drain();

    void WriteLoop()
    {
        while (true)
        {
            lock (_gate)
            {
                while (_queue.Count == 0 && !_disposed) Monitor.Wait(_gate);
                if (_queue.Count == 0) return;
            }
            Drain();
        }
    }

    void Drain()
    {
        lock (_writeGate)
        {
            List<object> items;
            lock (_gate)
            {
                items = [.. _queue];
                _queue.Clear();
            }
            if (_broken || items.Count == 0) return;
            try
            {
                foreach (var item in items)
                {
                    var message = item is PendingStream s
                        ? new JsonObject { ["t"] = "stream", ["name"] = s.Name, ["text"] = s.Text.ToString() }
                        : (JsonObject)item;
                    _writer.WriteLine(message.ToJsonString());
                }
                _writer.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                _broken = true;   // the parent is gone; the request loop ends the process
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.Pulse(_gate);
        }
        _thread.Join();
        Drain();
    }
}
