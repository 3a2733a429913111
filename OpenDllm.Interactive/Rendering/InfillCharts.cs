using OpenDllm.Experiments;
using ScottPlot;
using PChart = Plotly.NET.CSharp.Chart;
using PExt = Plotly.NET.CSharp.GenericChartExtensions;

namespace OpenDllm.Interactive;

/// <summary>
/// The infill side of a <see cref="Comparison"/> as one figure: exact match and token accuracy per run at oracle and at
/// unknown length, and generated tokens per second (prompt tokens never counted) for the same fills.
/// </summary>
public static class InfillCharts
{
    /// <summary>Three panels: exact match (%), token accuracy (%) and generated tokens/s, one bar per run and length protocol.</summary>
    public static Figure Comparison(Comparison comparison)
    {
        var bars = comparison.Runs
            .SelectMany(r => new[] { (Run: r.Name, Length: "oracle", Score: r.OracleInfill), (Run: r.Name, Length: "unknown", Score: r.UnknownLengthInfill) })
            .Where(b => b.Score is not null).ToList();
        if (bars.Count == 0) throw new ArgumentException("the comparison has no infill results (it ran with no infill tasks)");
        var lengths = bars.Select(b => b.Length).Distinct().ToList();
        var runs = bars.Select(b => b.Run).Distinct().ToList();
        double Value(string run, string length, Func<InfillScore, double> f) =>
            bars.FirstOrDefault(b => b.Run == run && b.Length == length).Score is { } s ? f(s) : double.NaN;
        static double Exact(InfillScore s) => 100 * s.Exact;
        static double Accuracy(InfillScore s) => 100 * s.TokenAccuracy;
        static double Speed(InfillScore s) => s.TokensPerSecond;

        Plotly.NET.GenericChart Panel(Func<InfillScore, double> f, string axis, bool legend) => PExt.WithYAxisStyle<double, string, string>(
            PChart.Combine(lengths.Select((l, i) => PChart.Column<double, string, string>(runs.Select(r => Value(r, l, f)).ToArray(),
                Keys: runs.ToArray(), Name: $"{l} length", ShowLegend: legend, MarkerColor: Plotly.NET.Color.fromString(Html.SeriesColor(i))))),
            TitleText: axis);
        var chart = PExt.WithSize(PChart.Grid([Panel(Exact, "exact match (%)", true), Panel(Accuracy, "token accuracy (%)", false),
                Panel(Speed, "generated tokens/s", false)], 1, 3,
            SubPlotTitles: new[] { "exact match", "token accuracy", "generated tokens per second" }), Width: 1200, Height: 420);

        return new Figure($"Infilling on {comparison.InfillTasks} held-out lines", chart, null, () =>
        {
            Plot BarPanel(Func<InfillScore, double> f, string title)
            {
                var p = new Plot();
                double width = 0.8 / lengths.Count;
                for (int i = 0; i < lengths.Count; i++)
                {
                    var c = ScottPlot.Color.FromHex(Html.SeriesColor(i));
                    p.Add.Bars(runs.Select((r, k) => new Bar
                    {
                        Position = k + (i - (lengths.Count - 1) / 2.0) * width, Value = Value(r, lengths[i], f) is var v && double.IsFinite(v) ? v : 0,
                        Size = width, FillColor = c,
                    }).ToList());
                    p.Legend.ManualItems.Add(new LegendItem { LabelText = $"{lengths[i]} length", FillColor = c });
                }
                p.Axes.Bottom.SetTicks(runs.Select((_, k) => (double)k).ToArray(), runs.ToArray());
                p.Title(title); p.ShowLegend();
                return p;
            }
            return [BarPanel(Exact, "exact match (%)"), BarPanel(Accuracy, "token accuracy (%)"), BarPanel(Speed, "generated tokens/s")];
        });
    }
}
