using System.Text;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Collects one cell's outputs in the order they happen: console text (consecutive writes to the same stream merge into
/// one stream output, as Jupyter shows them), display_data from <c>display</c> (updatable in place), the execute_result
/// and the error. Console text is buffered (appending is linear in the text written) and capped by the run's
/// <see cref="OutputBudget"/>: past the cap it is dropped and the cell's output ends with a note. Thread-safe; writes
/// after <see cref="Close"/> (from a cell abandoned on timeout, or a thread a finished cell left running) are dropped.
/// </summary>
public sealed class CellOutputSink
{
    readonly List<CellOutput> _outputs = new();
    readonly object _gate = new();
    readonly OutputBudget? _budget;
    readonly ICellOutputListener? _listener;
    StringBuilder? _openText;   // the text of _outputs[^1] (a stream output) while it can still grow
    long _consoleBytes;
    bool _closed, _truncated;

    /// <summary>A sink without output caps.</summary>
    public CellOutputSink() { }

    /// <param name="budget">The run's console-output caps (null: none).</param>
    /// <param name="listener">Told of every change as it happens (the notebook worker streams them to its parent).</param>
    internal CellOutputSink(OutputBudget? budget, ICellOutputListener? listener = null)
    {
        _budget = budget;
        _listener = listener;
    }

    public void AppendStream(string name, string text)
    {
        if (string.IsNullOrEmpty(text)) return;
        lock (_gate)
        {
            if (_closed || _truncated) return;
            if (_budget is not null)
            {
                var bytes = OutputBudget.Utf8Length(text);
                var allowed = _budget.Take(_consoleBytes, bytes, out var note);
                _consoleBytes += allowed;
                if (note is not null)
                {
                    var kept = OutputBudget.Utf8Prefix(text, allowed);
                    var lastEndsLine = kept.Length > 0 ? kept[^1] == '\n' : _openText is not { Length: > 0 } open || open[^1] == '\n';
                    text = kept + (lastEndsLine ? "" : "\n") + note + "\n";
                    _truncated = true;
                }
            }
            if (_openText is not null && _outputs[^1].Name == name) _openText.Append(text);
            else
            {
                Seal();
                if (_outputs.Count > 0 && _outputs[^1] is { OutputType: OutputType.Stream } last && last.Name == name)
                    _openText = new StringBuilder(last.Text).Append(text);
                else
                {
                    _outputs.Add(CellOutput.Stream(name, ""));
                    _openText = new StringBuilder(text);
                }
            }
            _listener?.Stream(name, text);
        }
    }

    /// <summary>Adds an output and returns it (a display_data can later be replaced through <see cref="Replace"/>).</summary>
    public CellOutput Add(CellOutput output)
    {
        lock (_gate)
        {
            if (_closed) return output;
            Seal();
            _outputs.Add(output);
            _listener?.Added(output);
            return output;
        }
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="existing"/> is (display(x).Update(y)).</summary>
    public void Replace(CellOutput existing, CellOutput replacement)
    {
        lock (_gate)
        {
            var index = _outputs.IndexOf(existing);
            if (!_closed && index >= 0) ReplaceAt(index, replacement);
        }
    }

    /// <summary>Puts <paramref name="replacement"/> at <paramref name="index"/> (ignored when there is no such output).</summary>
    internal void ReplaceAt(int index, CellOutput replacement)
    {
        lock (_gate)
        {
            if (_closed || index < 0 || index >= _outputs.Count) return;
            if (index == _outputs.Count - 1) Seal();
            _outputs[index] = replacement;
            _listener?.Replaced(index, replacement);
        }
    }

    /// <summary>Stops collecting and returns the outputs so far.</summary>
    public IReadOnlyList<CellOutput> Close()
    {
        lock (_gate)
        {
            Seal();
            _closed = true;
            return _outputs.ToList();
        }
    }

    /// <summary>Writes the open stream text into its output; later text of that stream starts a new buffer.</summary>
    void Seal()
    {
        if (_openText is null) return;
        _outputs[^1].Text = _openText.ToString();
        _openText = null;
    }
}

/// <summary>Hears every change of a <see cref="CellOutputSink"/> as it happens, in order, under the sink's lock.</summary>
internal interface ICellOutputListener
{
    /// <summary>Text appended to stream <paramref name="name"/> (after capping; a truncation note included).</summary>
    void Stream(string name, string text);

    void Added(CellOutput output);

    void Replaced(int index, CellOutput output);
}
