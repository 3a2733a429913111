using System.Text;
using OpenDllm.IO;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;

namespace OpenDllm.Interactive;

/// <summary>
/// A tiny builder for one offline HTML page: headings, paragraphs, preformatted text, figures, trajectories and raw
/// fragments, in order. plotly.js is inlined once in the head when a Plotly figure was added (or <see cref="RequirePlotly"/>).
/// </summary>
/// <example>
/// <code>
/// HtmlReport.Create("OpenDllm quickstart")
///     .AddParagraph("NELBO before/after training …")
///     .Add(TrainingCurves.Load("runs/quickstart"))
///     .Add(trajectory, tokenizer, "held-out infill")
///     .Save("runs/quickstart/report.html");
/// </code>
/// </example>
public sealed class HtmlReport
{
    readonly List<string> _sections = [];
    bool _plotly;

    HtmlReport(string title) => Title = title;

    /// <summary>The page title (also the first heading).</summary>
    public string Title { get; }

    /// <summary>Starts a report.</summary>
    public static HtmlReport Create(string title) => new(title);

    /// <summary>Adds a heading (level 2–6).</summary>
    public HtmlReport AddHeading(string text, int level = 2)
    {
        level = Math.Clamp(level, 2, 6);
        return AddHtml($"<h{level}>{Html.Escape(text)}</h{level}>");
    }

    /// <summary>Adds a paragraph of text (escaped).</summary>
    public HtmlReport AddParagraph(string text) => AddHtml($"<p>{Html.Escape(text)}</p>");

    /// <summary>Adds preformatted text (escaped), e.g. a console log or generated code.</summary>
    public HtmlReport AddPreformatted(string text) => AddHtml($"<pre>{Html.Escape(text)}</pre>");

    /// <summary>Adds a raw HTML fragment as is (it must not reference external scripts to stay offline).</summary>
    public HtmlReport AddHtml(string fragment)
    {
        _sections.Add(fragment);
        return this;
    }

    /// <summary>Adds a figure (training curves, schedule charts) under its title.</summary>
    public HtmlReport Add(Figure figure, string? heading = null)
    {
        _plotly |= figure.UsesPlotly;
        AddHeading(heading ?? figure.Title, 3);
        return AddHtml(figure.ToHtmlFragment());
    }

    /// <summary>Adds a trajectory viewer.</summary>
    public HtmlReport Add(Trajectory trajectory, ITokenizer? tokenizer, string? title = null) =>
        AddHtml(TrajectoryHtml.Render(trajectory, tokenizer, title));

    /// <summary>Adds anything <see cref="Renderers.ToHtml"/> knows (tensors, runs, schedules, …); other values as preformatted text.</summary>
    public HtmlReport Add(object value)
    {
        if (value is Figure f) return Add(f);
        if (value is Plotly.NET.GenericChart c) { _plotly = true; return AddHtml(PlotlyHtml.Fragment(c)); }
        if (value is TrainingRun r) return Add(TrainingCurves.FromRuns(r));
        return Renderers.ToHtml(value) is { } html ? AddHtml(html) : AddPreformatted(value?.ToString() ?? "null");
    }

    /// <summary>Makes the page carry plotly.js (for raw fragments from <see cref="PlotlyHtml.Fragment"/>).</summary>
    public HtmlReport RequirePlotly()
    {
        _plotly = true;
        return this;
    }

    /// <summary>The report's body as a fragment (for notebooks), plotly.js inlined first when asked for and needed.</summary>
    public string ToBodyHtml(bool includePlotlyJs = false)
    {
        var sb = new StringBuilder();
        if (includePlotlyJs && _plotly) sb.Append(PlotlyHtml.ScriptTag).Append('\n');
        sb.Append("<h1>").Append(Html.Escape(Title)).Append("</h1>\n");
        foreach (var s in _sections) sb.Append("<section>").Append(s).Append("</section>\n");
        return sb.ToString();
    }

    /// <summary>The full offline page.</summary>
    public string ToHtml() => Html.Page(Title, ToBodyHtml(), _plotly ? PlotlyHtml.ScriptTag : null);

    /// <summary>Writes the page atomically (a temporary file renamed over <paramref name="path"/>); returns the path.</summary>
    public string Save(string path)
    {
        AtomicFile.WriteAllText(path, ToHtml());
        return path;
    }
}
