using System.Text;
using OpenDllm.Objectives;
using OpenDllm.TimeSampling;
using Plotly.NET;
using ScottPlot;
using PChart = Plotly.NET.CSharp.Chart;
using PExt = Plotly.NET.CSharp.GenericChartExtensions;

namespace OpenDllm.Interactive;

/// <summary>LDLM's adaptive time sampler (SPEC §6.5) read at one training step: its bin probabilities p_b and loss EMA L̄_b.</summary>
/// <param name="Step">Optimizer steps taken when it was read.</param>
/// <param name="Probabilities">p_b, one per bin (uniform until every bin has an EMA).</param>
/// <param name="Ema">L̄_b per bin; null for a bin that has seen no loss yet.</param>
public sealed record AdaptiveTimesSnapshot(long Step, IReadOnlyList<double> Probabilities, IReadOnlyList<double?> Ema)
{
    /// <summary>A copy of <paramref name="sampler"/>'s state after <paramref name="step"/> steps.</summary>
    public static AdaptiveTimesSnapshot Of(long step, AdaptiveTimestepSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        return new(step, sampler.BinProbabilities(), sampler.Ema.ToArray());
    }

    /// <summary>True once every bin has an EMA (before that the sampler draws uniformly).</summary>
    public bool IsWarm => Ema.All(e => e.HasValue);
}

/// <summary>
/// Charts of LDLM training (SPEC §6): the diffusion-to-encoder warmup γ(s) (§6.3) and the adaptive time sampler's bin
/// density and loss EMA over a run (§6.5). Each returns a <see cref="Figure"/> (HTML, PNG, SVG).
/// </summary>
public static class LatentCharts
{
    /// <summary>γ(s) = sigmoid(k·(s/S − c)) over a run of <paramref name="totalSteps"/> steps, with <paramref name="step"/> marked.</summary>
    public static Figure Warmup(long totalSteps, long? step = null, double k = DiffusionWarmup.DefaultSteepness, double c = DiffusionWarmup.DefaultCenter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        if (step is { } s && (s < 0 || s > totalSteps)) throw new ArgumentOutOfRangeException(nameof(step), step, $"must lie in [0, {totalSteps}]");
        int n = (int)Math.Min(totalSteps, 400);
        var xs = Enumerable.Range(0, n + 1).Select(i => Math.Round(i * (double)totalSteps / n)).ToArray();
        var ys = xs.Select(x => DiffusionWarmup.Gamma((long)x, totalSteps, k, c)).ToArray();
        string title = $"γ(s) = sigmoid({Html.Number(k)}·(s/S − {Html.Number(c)})), S = {totalSteps}";
        var traces = new List<GenericChart>
        {
            PChart.Line<double, double, string>(xs, ys, Name: "γ(s)", LineColor: Plotly.NET.Color.fromString(Html.SeriesColor(0))),
        };
        double? marked = step is { } at ? DiffusionWarmup.Gamma(at, totalSteps, k, c) : null;
        if (step is { } here)
            traces.Add(PChart.Point<double, double, string>([here], [marked!.Value], Name: $"step {here}: γ = {Html.Number(marked.Value)}",
                MarkerColor: Plotly.NET.Color.fromString(Html.SeriesColor(1))));
        var chart = PExt.WithSize(PExt.WithYAxisStyle<double, double, string>(
            PExt.WithXAxisStyle<double, double, string>(PChart.Combine(traces), TitleText: "step s"), TitleText: "γ"), Width: 800, Height: 380);
        return new Figure(title, chart, null, () =>
        {
            var p = new Plot();
            p.Add.ScatterLine(xs, ys, ScottPlot.Color.FromHex(Html.SeriesColor(0))).LegendText = "γ(s)";
            if (step is { } here)
                p.Add.Marker(here, marked!.Value, MarkerShape.FilledCircle, 8, ScottPlot.Color.FromHex(Html.SeriesColor(1))).LegendText = $"step {here}";
            p.Title(title); p.XLabel("step s"); p.YLabel("γ"); p.ShowLegend();
            return [p];
        });
    }

    /// <summary>
    /// The adaptive sampler's density K·p_b over the run as a heatmap: one row per snapshot (step), one column per bin of t
    /// (1 = uniform; each HTML cell carries its value). Rows still warming up (uniform) are marked.
    /// </summary>
    /// <exception cref="ArgumentException">No snapshots, or snapshots with different bin counts.</exception>
    public static Figure AdaptiveDensity(IReadOnlyList<AdaptiveTimesSnapshot> snapshots)
    {
        int bins = CheckSnapshots(snapshots);
        var density = snapshots.Select(s => s.Probabilities.Select(p => p * bins).ToArray()).ToArray();
        string title = $"Adaptive time sampler: density K·p_b of t, {bins} bins, steps {snapshots[0].Step}–{snapshots[^1].Step}";
        return new Figure(title, null, () => DensityHeatmap(title, snapshots, density, bins), () =>
        {
            var heat = new Plot();
            var m = new double[snapshots.Count, bins];
            for (int i = 0; i < snapshots.Count; i++)
                for (int b = 0; b < bins; b++) m[i, b] = density[i][b];
            heat.Add.Heatmap(m).Colormap = new ScottPlot.Colormaps.Viridis();
            heat.Axes.InvertY();                                                  // the first reading at the top, as in the HTML
            heat.Title("K·p_b (rows: readings, first at the top)"); heat.XLabel("bin of t"); heat.YLabel("reading");
            return [heat];
        });
    }

    /// <summary>
    /// The adaptive sampler's loss EMA L̄_b against t (bin centres) for up to <paramref name="curves"/> snapshots spread over
    /// the run (bins without an EMA are left out). The sampler's density is the slope of these curves.
    /// </summary>
    /// <exception cref="ArgumentException">No snapshots, snapshots with different bin counts, or none with an EMA.</exception>
    public static Figure AdaptiveLosses(IReadOnlyList<AdaptiveTimesSnapshot> snapshots, int curves = 5)
    {
        int bins = CheckSnapshots(snapshots);
        ArgumentOutOfRangeException.ThrowIfLessThan(curves, 1);
        var centres = Enumerable.Range(0, bins).Select(b => (b + 0.5) / bins).ToArray();
        var shown = Spread(snapshots.Where(s => s.Ema.Any(e => e.HasValue)).ToList(), curves);
        if (shown.Count == 0) throw new ArgumentException("no snapshot has a bin with a loss EMA yet", nameof(snapshots));
        string title = $"Adaptive time sampler: EMA of L_diff per bin ({bins} bins)";
        var chart = PExt.WithSize(PExt.WithYAxisStyle<double, double, string>(PExt.WithXAxisStyle<double, double, string>(
            PChart.Combine(shown.Select((s, i) => EmaLine(s, centres, i))), TitleText: "t (bin centre)"), TitleText: "EMA of L_diff"),
            Width: 800, Height: 380);
        return new Figure(title, chart, null, () =>
        {
            var lines = new Plot();
            for (int i = 0; i < shown.Count; i++)
            {
                var (x, y) = Known(shown[i], centres);
                lines.Add.ScatterLine(x, y, ScottPlot.Color.FromHex(Html.SeriesColor(i))).LegendText = $"step {shown[i].Step}";
            }
            lines.Title("EMA of L_diff per bin"); lines.XLabel("t"); lines.ShowLegend();
            return [lines];
        });
    }

    /// <summary>The common bin count of <paramref name="snapshots"/>.</summary>
    static int CheckSnapshots(IReadOnlyList<AdaptiveTimesSnapshot> snapshots)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        if (snapshots.Count == 0) throw new ArgumentException("no snapshots to chart", nameof(snapshots));
        int bins = snapshots[0].Probabilities.Count;
        if (bins == 0 || snapshots.Any(s => s.Probabilities.Count != bins || s.Ema.Count != bins))
            throw new ArgumentException($"every snapshot needs {bins} probabilities and {bins} EMA values (the first snapshot's bin count)", nameof(snapshots));
        return bins;
    }

    static GenericChart EmaLine(AdaptiveTimesSnapshot s, double[] centres, int i)
    {
        var (x, y) = Known(s, centres);
        var colour = Plotly.NET.Color.fromString(Html.SeriesColor(i));
        return PChart.Line<double, double, string>(x, y, ShowMarkers: true, Name: $"step {s.Step}", LineColor: colour, MarkerColor: colour);
    }

    /// <summary>The bins of <paramref name="s"/> that have an EMA: (centre, L̄_b).</summary>
    static (double[] X, double[] Y) Known(AdaptiveTimesSnapshot s, double[] centres)
    {
        var known = Enumerable.Range(0, centres.Length).Where(b => s.Ema[b].HasValue).ToArray();
        return (known.Select(b => centres[b]).ToArray(), known.Select(b => s.Ema[b]!.Value).ToArray());
    }

    /// <summary>At most <paramref name="n"/> items evenly spread over <paramref name="items"/>, first and last included.</summary>
    static List<AdaptiveTimesSnapshot> Spread(List<AdaptiveTimesSnapshot> items, int n)
    {
        if (items.Count <= n) return items;
        if (n == 1) return [items[^1]];
        return Enumerable.Range(0, n).Select(i => items[(int)Math.Round(i * (items.Count - 1) / (double)(n - 1))]).Distinct().ToList();
    }

    static string DensityHeatmap(string title, IReadOnlyList<AdaptiveTimesSnapshot> snapshots, double[][] density, int bins)
    {
        double hi = Math.Max(1.0, density.SelectMany(r => r).Max());
        int cell = bins <= 32 ? 16 : bins <= 64 ? 8 : 4;
        var sb = new StringBuilder("<div style=\"font:12px system-ui,sans-serif\"><div style=\"font-weight:600;margin:.3em 0\">")
            .Append(Html.Escape(title)).Append("</div><div style=\"margin-bottom:.3em;color:#555\">viridis, 0 … ").Append(Html.Number(hi))
            .Append("; 1 = uniform</div><table style=\"border-collapse:collapse\" title=\"rows: step, columns: bin of t\">")
            .Append("<tr><th style=\"font-weight:normal;color:#777;padding-right:.5em\">step</th><th colspan=\"").Append(bins)
            .Append("\" style=\"font-weight:normal;color:#777;text-align:left\">t = 0 → 1</th></tr>");
        for (int i = 0; i < snapshots.Count; i++)
        {
            sb.Append("<tr><td style=\"text-align:right;padding:0 .5em 0 0;color:#555;font-size:10px;line-height:1\">").Append(snapshots[i].Step)
              .Append(snapshots[i].IsWarm ? "" : " ·").Append("</td>");
            for (int b = 0; b < bins; b++)
            {
                string colour = Html.Viridis(density[i][b] / hi);
                sb.Append("<td style=\"width:").Append(cell).Append("px;height:10px;padding:0;background:").Append(colour)
                  .Append("\" title=\"step ").Append(snapshots[i].Step).Append(", t ∈ [").Append(Html.Number(b / (double)bins)).Append(", ")
                  .Append(Html.Number((b + 1) / (double)bins)).Append("): K·p = ").Append(Html.Number(density[i][b])).Append("\"></td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table><div style=\"color:#777\">· = still warming up (uniform until every bin has an EMA)</div></div>").ToString();
    }
}
