using Microsoft.AspNetCore.Html;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The globals every notebook cell sees, as in the .NET Interactive C# kernel: <c>display(x)</c> adds a display_data
/// output (text/html through the runner's renderer, plus text/plain) and returns a handle whose <c>Update(y)</c> replaces
/// it; <c>HTML("…")</c> marks a string as raw HTML; <c>Parameters</c> holds the <c>--param</c> overrides of this run.
/// </summary>
public class NotebookGlobals
{
    readonly ValueRenderer _renderer;

    internal NotebookGlobals(ValueRenderer renderer, IReadOnlyDictionary<string, string> parameters)
    {
        _renderer = renderer;
        Parameters = parameters;
    }

    /// <summary>The sink of the cell now running (set by the runner before each cell); <c>display</c> prefers the sink of
    /// the calling flow, so a thread a finished cell left running never shows output in a later cell.</summary>
    internal CellOutputSink? Sink { get; set; }

    /// <summary>The name=value overrides given to this run (empty when none).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; }

    /// <summary>Shows <paramref name="value"/> below the cell (display_data with text/html and text/plain).</summary>
    public DisplayedValue display(object? value)
    {
        var sink = ConsoleCapture.CurrentSink ?? Sink ?? throw new InvalidOperationException("display() is only available while a notebook cell runs");
        return new DisplayedValue(sink, sink.Add(_renderer.Render(value, OutputType.DisplayData)), _renderer);
    }

    /// <summary>Raw HTML for <see cref="display"/> (not escaped).</summary>
    public IHtmlContent HTML(string html) => new HtmlString(html);
}

/// <summary>A displayed output that can be replaced in place (e.g. a chart updated during training).</summary>
public sealed class DisplayedValue
{
    readonly CellOutputSink _sink;
    readonly ValueRenderer _renderer;
    CellOutput _output;

    internal DisplayedValue(CellOutputSink sink, CellOutput output, ValueRenderer renderer)
    {
        _sink = sink;
        _output = output;
        _renderer = renderer;
    }

    /// <summary>Replaces the displayed output with <paramref name="value"/>.</summary>
    public void Update(object? value)
    {
        var replacement = _renderer.Render(value, OutputType.DisplayData);
        _sink.Replace(_output, replacement);
        _output = replacement;
    }
}
