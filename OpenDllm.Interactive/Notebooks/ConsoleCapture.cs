using System.Text;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Routes Console.Out/Console.Error, for the code running under <see cref="Begin"/> (its async flow, including tasks and
/// threads it starts), into a cell's outputs; other code keeps writing to the real console. The routing writers are
/// installed while at least one capture is active and the original writers are restored when the last one ends.
/// </summary>
internal sealed class ConsoleCapture : IDisposable
{
    static readonly AsyncLocal<CellOutputSink?> Current = new();
    static readonly object Gate = new();
    static int _active;
    static TextWriter? _originalOut, _originalError;

    readonly CellOutputSink? _previous;
    bool _disposed;

    ConsoleCapture(CellOutputSink sink)
    {
        lock (Gate)
        {
            if (_active++ == 0)
            {
                _originalOut = Console.Out;
                _originalError = Console.Error;
                Console.SetOut(new RoutingWriter("stdout", _originalOut));
                Console.SetError(new RoutingWriter("stderr", _originalError));
            }
        }
        _previous = Current.Value;
        Current.Value = sink;
    }

    /// <summary>Starts sending this flow's console output to <paramref name="sink"/>; dispose to stop.</summary>
    public static ConsoleCapture Begin(CellOutputSink sink) => new(sink);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Current.Value = _previous;
        lock (Gate)
        {
            if (--_active > 0) return;
            Console.Out.Flush();
            Console.Error.Flush();
            Console.SetOut(_originalOut!);
            Console.SetError(_originalError!);
        }
    }

    sealed class RoutingWriter(string stream, TextWriter fallback) : TextWriter
    {
        public override Encoding Encoding => fallback.Encoding;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(string? value)
        {
            if (string.IsNullOrEmpty(value)) return;
            if (Current.Value is { } sink) sink.AppendStream(stream, value);
            else fallback.Write(value);
        }

        public override void WriteLine(string? value) => Write((value ?? "") + NewLine);

        public override void Flush() => fallback.Flush();
    }
}
