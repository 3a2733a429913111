using System.Diagnostics;
using System.Globalization;
using System.Text;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// The frames of <c>sample|infill --live</c>: a header (step, tokens committed at this step, masks left, forwards/s) over
/// the canvas of row 0, where masked positions are dim <see cref="MaskGlyph"/>s, tokens committed at this step are
/// highlighted, tokens committed earlier are green and the prompt (or prefix/suffix) is plain. Long canvases wrap at the
/// terminal's width (Spectre's markup wraps). Every frame is built from the step's whole canvas, so a canvas whose length
/// changes between steps (a variable-length sampler) redraws correctly.
/// </summary>
public sealed class LiveCanvasView
{
    /// <summary>What a masked position shows.</summary>
    public const string MaskGlyph = "░";

    readonly Func<long, string> _piece;
    readonly string _title;
    readonly HashSet<int> _committed = [];
    readonly Stopwatch _clock = new();
    readonly Dictionary<long, string> _pieces = [];

    /// <param name="piece">The text of one token id (e.g. the tokenizer's decode of that id alone).</param>
    /// <param name="title">Shown before the step counter (e.g. the sampler's name).</param>
    public LiveCanvasView(Func<long, string> piece, string title)
    {
        _piece = piece;
        _title = title;
    }

    /// <summary>A view that decodes with <paramref name="tokenizer"/>.</summary>
    public static LiveCanvasView For(ITokenizer tokenizer, string title) => new(id => tokenizer.Decode([(int)id]), title);

    /// <summary>True when the live view can redraw in place: stdout is an interactive terminal with ANSI support.</summary>
    public static bool TerminalSupportsLive =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>The frame of <paramref name="view"/> as Spectre markup (header line, blank line, canvas).</summary>
    public string Markup(SamplingStepView view)
    {
        if (view.Step == 0) { _committed.Clear(); _clock.Restart(); }
        var row = view.Canvas.Length > 0 ? view.Canvas[0] : [];
        var now = new HashSet<int>();
        foreach (var e in view.Events)
        {
            if (e.Row != 0) continue;
            if (e.Remasked) _committed.Remove(e.Position);
            else { _committed.Add(e.Position); now.Add(e.Position); }
        }
        _committed.RemoveWhere(p => p >= row.Length);                       // the canvas got shorter
        int masked = row.Count(t => t == view.MaskId);
        double seconds = _clock.Elapsed.TotalSeconds;
        string rate = view.Step == 0 || seconds <= 0 ? "–" : (view.Forwards / seconds).ToString("F1", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"[bold]{Spectre.Console.Markup.Escape(_title)}[/]  step [bold]{view.Step}[/]  +{now.Count} tokens  {masked} masked  {view.Forwards} forwards  {rate} forwards/s\n\n");
        for (int i = 0; i < row.Length; i++)
        {
            if (row[i] == view.MaskId) { text.Append("[dim]").Append(MaskGlyph).Append("[/]"); continue; }
            var piece = Spectre.Console.Markup.Escape(Piece(row[i]));
            if (piece.Length == 0) continue;
            if (now.Contains(i)) text.Append("[black on yellow]").Append(piece).Append("[/]");
            else if (_committed.Contains(i)) text.Append("[green]").Append(piece).Append("[/]");
            else text.Append(piece);
        }
        return text.ToString();
    }

    /// <summary>The frame of <paramref name="view"/> as a renderable for a live display.</summary>
    public IRenderable Frame(SamplingStepView view) => new Markup(Markup(view));

    string Piece(long id)
    {
        if (!_pieces.TryGetValue(id, out var text)) _pieces[id] = text = _piece(id).Replace("\r", "");
        return text;
    }

    /// <summary>
    /// Runs <paramref name="sample"/> under a live display redrawn at every step (the caller has checked
    /// <see cref="TerminalSupportsLive"/>); the last frame stays on screen.
    /// </summary>
    public T Run<T>(Func<T> sample)
    {
        T result = default!;
        AnsiConsole.Live(new Markup(""))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Ellipsis)
            .Cropping(VerticalOverflowCropping.Top)
            .Start(context =>
            {
                using var watch = SamplingProgress.Watch(view =>
                {
                    context.UpdateTarget(Frame(view));
                    context.Refresh();
                });
                result = sample();
            });
        return result;
    }
}
