namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Collects one cell's outputs in the order they happen: console text (consecutive writes to the same stream merge into
/// one stream output, as Jupyter shows them), display_data from <c>display</c> (updatable in place), the execute_result
/// and the error. Thread-safe; writes after <see cref="Close"/> (from a cell abandoned on timeout) are dropped.
/// </summary>
public sealed class CellOutputSink
{
    readonly List<CellOutput> _outputs = new();
    readonly object _gate = new();
    bool _closed;

    public void AppendStream(string name, string text)
    {
        lock (_gate)
        {
            if (_closed) return;
            if (_outputs.Count > 0 && _outputs[^1] is { OutputType: OutputType.Stream } last && last.Name == name) last.Text += text;
            else _outputs.Add(CellOutput.Stream(name, text));
        }
    }

    /// <summary>Adds an output and returns it (a display_data can later be replaced through <see cref="Replace"/>).</summary>
    public CellOutput Add(CellOutput output)
    {
        lock (_gate)
        {
            if (!_closed) _outputs.Add(output);
            return output;
        }
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="existing"/> is (display(x).Update(y)).</summary>
    public void Replace(CellOutput existing, CellOutput replacement)
    {
        lock (_gate)
        {
            var index = _outputs.IndexOf(existing);
            if (!_closed && index >= 0) _outputs[index] = replacement;
        }
    }

    /// <summary>Stops collecting and returns the outputs so far.</summary>
    public IReadOnlyList<CellOutput> Close()
    {
        lock (_gate)
        {
            _closed = true;
            return _outputs.ToList();
        }
    }
}
