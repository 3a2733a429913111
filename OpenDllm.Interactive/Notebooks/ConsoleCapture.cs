using System.Text;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Sends Console.Out/Console.Error written by a cell (its async flow, including tasks and threads it starts) into the
/// cell's outputs, while other code keeps writing to the real console. <see cref="Install"/> puts routing writers in place
/// for the length of a run (nested runs share them; the original writers come back when the last run ends, even if a
/// timed-out cell is still running); <see cref="RouteTo"/> picks the sink for the calling flow.
/// </summary>
internal static class ConsoleCapture
{
    static readonly AsyncLocal<CellOutputSink?> Current = new();
    static readonly object Gate = new();
    static int _installed;
    static TextWriter? _originalOut, _originalError;

    /// <summary>Installs the routing writers until the result is disposed.</summary>
    public static IDisposable Install()
    {
        lock (Gate)
        {
            if (_installed++ == 0)
            {
                _originalOut = Console.Out;
                _originalError = Console.Error;
                Console.SetOut(new RoutingWriter("stdout", _originalOut));
                Console.SetError(new RoutingWriter("stderr", _originalError));
            }
        }
        return new Installation();
    }

    /// <summary>From now on, console output of the calling flow (and flows it starts) goes to <paramref name="sink"/>.</summary>
    public static void RouteTo(CellOutputSink? sink) => Current.Value = sink;

    /// <summary>The sink of the calling flow: the cell it belongs to (also when that cell has finished), or null.</summary>
    public static CellOutputSink? CurrentSink => Current.Value;

    sealed class Installation : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (Gate)
            {
                if (--_installed > 0) return;
                Console.SetOut(_originalOut!);
                Console.SetError(_originalError!);
            }
        }
    }

    sealed class RoutingWriter(string stream, TextWriter fallback) : TextWriter
    {
        public override Encoding Encoding => fallback.Encoding;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));

        public override void WriteLine(ReadOnlySpan<char> buffer) => Write(string.Concat(buffer, NewLine));

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
