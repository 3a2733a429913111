using Microsoft.FSharp.Core;
using OpenDllm.IO;
using Plotly.NET;
using ScottPlot;

namespace OpenDllm.Interactive;

/// <summary>
/// A chart with two faces: interactive HTML (a Plotly.NET chart, or a pure HTML/CSS fragment) and static PNG/SVG drawn
/// by ScottPlot (one or more panels side by side). Produced by <see cref="ScheduleCharts"/> and <see cref="TrainingCurves"/>.
/// </summary>
/// <remarks>
/// plotly.js (v2.28, 3.6 MB) is referenced <b>once per page</b>: <see cref="ToHtmlFragment"/> emits the chart's
/// <c>&lt;div&gt;</c> and a script that waits until <c>window.Plotly</c> exists, without plotly.js itself unless
/// <c>includePlotlyJs</c> is true. A page gets the library once, from <see cref="PlotlyHtml.ScriptTag"/> in its head
/// (what <see cref="ToPage"/> and <see cref="HtmlReport"/> do). In notebooks, <see cref="Renderers.ToHtml"/> inlines it
/// in the first Plotly output of a session only (see <see cref="Renderers.PlotlyScript"/>).
/// </remarks>
public class Figure
{
    readonly Func<string>? _html;
    readonly Func<IReadOnlyList<Plot>> _panels;

    /// <summary>Creates a figure from a Plotly chart and/or an HTML fragment builder, and the ScottPlot panels builder.</summary>
    public Figure(string title, GenericChart? chart, Func<string>? html, Func<IReadOnlyList<Plot>> panels)
    {
        if (chart is null && html is null) throw new ArgumentException("a figure needs a Plotly chart or an HTML fragment");
        Title = title;
        Chart = chart;
        _html = html;
        _panels = panels;
    }

    /// <summary>The figure's title (page title, report heading).</summary>
    public string Title { get; }

    /// <summary>The interactive Plotly.NET chart, when the HTML face is a Plotly chart.</summary>
    public GenericChart? Chart { get; }

    /// <summary>Whether the HTML face needs plotly.js on the page.</summary>
    public bool UsesPlotly => Chart is not null;

    /// <summary>The HTML fragment; plotly.js is inlined only when <paramref name="includePlotlyJs"/> is true.</summary>
    public string ToHtmlFragment(bool includePlotlyJs = false) =>
        Chart is not null ? PlotlyHtml.Fragment(Chart, includePlotlyJs) : _html!();

    /// <summary>A full offline HTML document (plotly.js inlined in the head when needed; no CDN).</summary>
    public string ToPage() =>
        Html.Page(Title, $"<h2>{Html.Escape(Title)}</h2>\n{ToHtmlFragment()}", UsesPlotly ? PlotlyHtml.ScriptTag : null);

    /// <summary>Writes <see cref="ToPage"/> atomically.</summary>
    public void SavePage(string path) => AtomicFile.WriteAllText(path, ToPage());

    /// <summary>The static chart as PNG bytes; panels are laid out side by side.</summary>
    public byte[] ToPng(int width = 900, int height = 450)
    {
        var panels = _panels();
        if (panels.Count == 1) return panels[0].GetImageBytes(width, height, ImageFormat.Png);
        var multi = new Multiplot();
        multi.Reset(panels[0]); // a new Multiplot starts with an empty plot of its own
        foreach (var p in panels.Skip(1)) multi.AddPlot(p);
        multi.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var file = Path.Combine(Path.GetTempPath(), $"odl-fig-{Guid.NewGuid():N}.png");
        try
        {
            multi.SavePng(file, width, height);
            return File.ReadAllBytes(file);
        }
        finally { File.Delete(file); }
    }

    /// <summary>Writes <see cref="ToPng"/> atomically.</summary>
    public void SavePng(string path, int width = 900, int height = 450) => AtomicFile.WriteAllBytes(path, ToPng(width, height));

    /// <summary>The static chart as an SVG document; panels are nested side by side.</summary>
    public string ToSvg(int width = 900, int height = 450)
    {
        var panels = _panels();
        if (panels.Count == 1) return panels[0].GetSvgXml(width, height);
        int w = width / panels.Count;
        var parts = panels.Select((p, i) =>
        {
            var svg = p.GetSvgXml(w, height);
            int start = svg.IndexOf("<svg", StringComparison.Ordinal);
            return svg[..start].Contains("<?xml") ? svg[start..].Insert(4, $" x=\"{i * w}\"") : svg.Insert(start + 4, $" x=\"{i * w}\"");
        });
        return $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">{string.Concat(parts)}</svg>";
    }

    /// <summary>Writes <see cref="ToSvg"/> atomically.</summary>
    public void SaveSvg(string path, int width = 900, int height = 450) => AtomicFile.WriteAllText(path, ToSvg(width, height));
}

/// <summary>Plotly.NET charts as offline HTML: fragments without plotly.js, and the one inline plotly.js script tag.</summary>
public static class PlotlyHtml
{
    static readonly Lazy<string> Script = new(() =>
    {
        var asm = typeof(GenericChart).Assembly;
        var name = asm.GetManifestResourceNames().Single(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal));
        using var reader = new StreamReader(asm.GetManifestResourceStream(name)!);
        // A literal "</script>" inside the library would end the tag early; plotly.min.js has none, but be safe.
        return "<script type=\"text/javascript\">" + reader.ReadToEnd().Replace("</script>", "<\\/script>") + "</script>";
    });

    /// <summary>The plotly.js bundled with Plotly.NET (no network), as one inline <c>&lt;script&gt;</c> tag; include it once per page.</summary>
    public static string ScriptTag => Script.Value;

    /// <summary>
    /// The chart's <c>&lt;div&gt;</c> and drawing script. The script waits (polling) until <c>window.Plotly</c> is defined, so
    /// plotly.js may come earlier or later on the page; with <paramref name="includePlotlyJs"/> it is inlined before it.
    /// </summary>
    public static string Fragment(GenericChart chart, bool includePlotlyJs = false)
    {
        var options = DisplayOptions.init(null, null, null, null, null, null, FSharpOption<PlotlyJSReference>.Some(PlotlyJSReference.NoReference));
        var html = GenericChart.toChartHTML(GenericChart.setDisplayOptions(options, chart));
        // Plotly.NET ends its script with a direct call "renderPlotly_<id>();": defer it until plotly.js has loaded.
        var call = System.Text.RegularExpressions.Regex.Match(html, @"(renderPlotly_\w+)\(\);\s*</script>");
        if (call.Success)
        {
            var fn = call.Groups[1].Value;
            html = html.Remove(call.Index, call.Length).Insert(call.Index,
                $"(function w(){{if(window.Plotly){{{fn}();}}else{{setTimeout(w,30);}}}})();\n</script>");
        }
        return includePlotlyJs ? ScriptTag + "\n" + html : html;
    }
}
