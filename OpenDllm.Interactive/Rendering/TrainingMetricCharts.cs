using Plotly.NET;
using ScottPlot;
using PChart = Plotly.NET.CSharp.Chart;

namespace OpenDllm.Interactive;

public sealed partial class TrainingCurves
{
    /// <summary>
    /// Charts chosen metrics of a run against step, one panel per metric (up to three panels a row), e.g.
    /// <c>TrainingCurves.Metrics(run, "l_h", "l_w", "l_diff")</c> or validation metrics such as <c>"val_l_h"</c>.
    /// Names are the <c>metrics.jsonl</c> keys (<see cref="TrainingRun.Metrics"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No names, or a name no run has (the message lists the run's metrics).</exception>
    public static Figure Metrics(TrainingRun run, params string[] names) => Metrics([run], names);

    /// <summary>Charts chosen metrics of several runs: one panel per metric, each run in its own colour.</summary>
    /// <exception cref="ArgumentException">No runs or no names, or a name none of the runs has.</exception>
    public static Figure Metrics(IEnumerable<TrainingRun> runs, IEnumerable<string> names, string? title = null)
    {
        var list = runs.ToList();
        var metrics = names.ToList();
        if (list.Count == 0) throw new ArgumentException("no runs to chart", nameof(runs));
        if (metrics.Count == 0) throw new ArgumentException("name at least one metric to chart", nameof(names));
        foreach (var name in metrics)
            if (!list.Any(r => r.Metrics.ContainsKey(name)))
                throw new ArgumentException($"no run has a metric '{name}'; available: "
                    + string.Join(", ", list.SelectMany(r => r.Metrics.Keys).Distinct().Order(StringComparer.Ordinal)), nameof(names));
        return new Figure(title ?? string.Join(", ", metrics), MetricsChart(list, metrics), null, () => MetricsPanels(list, metrics));
    }

    static GenericChart MetricsChart(IReadOnlyList<TrainingRun> runs, IReadOnlyList<string> metrics)
    {
        var panels = metrics.Select((metric, m) =>
        {
            var lines = runs.Select((r, i) =>
            {
                var s = r.Metrics.GetValueOrDefault(metric);
                long[] xs = s?.Steps.ToArray() ?? [];
                double[] ys = s?.Values.ToArray() ?? [];
                var colour = Plotly.NET.Color.fromString(Html.SeriesColor(i));
                return PChart.Line<long, double, string>(xs, ys, ShowMarkers: xs.Length < 30, Name: r.Name, ShowLegend: m == 0,
                    LineColor: colour, MarkerColor: colour);
            });
            return Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<double, double, string>(
                Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<long, long, string>(PChart.Combine(lines), TitleText: "step"),
                TitleText: metric);
        }).ToArray();
        int columns = Math.Min(3, metrics.Count), rows = (metrics.Count + columns - 1) / columns;
        var grid = PChart.Grid(panels, rows, columns, SubPlotTitles: metrics.ToArray());
        return Plotly.NET.CSharp.GenericChartExtensions.WithSize(grid, Width: 1150, Height: 360 * rows);
    }

    static IReadOnlyList<Plot> MetricsPanels(IReadOnlyList<TrainingRun> runs, IReadOnlyList<string> metrics) =>
        metrics.Select(metric =>
        {
            var plot = new Plot();
            for (int i = 0; i < runs.Count; i++)
            {
                if (runs[i].Metrics.GetValueOrDefault(metric) is not { Steps.Count: > 0 } s) continue;
                var line = plot.Add.ScatterLine(s.Steps.Select(x => (double)x).ToArray(), s.Values.ToArray(), ScottPlot.Color.FromHex(Html.SeriesColor(i)));
                line.LegendText = runs[i].Name;
            }
            plot.Title(metric); plot.XLabel("step"); plot.ShowLegend();
            return plot;
        }).ToList();
}
