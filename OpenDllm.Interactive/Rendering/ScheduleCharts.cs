using System.Text;
using OpenDllm.Attention;
using OpenDllm.Sampling.Transfer;
using OpenDllm.Schedules;
using Plotly.NET;
using ScottPlot;
using PChart = Plotly.NET.CSharp.Chart;
using PExt = Plotly.NET.CSharp.GenericChartExtensions;
using static TorchSharp.torch;

namespace OpenDllm.Interactive;

/// <summary>
/// Charts of the diffusion schedules and masks: α(t) and w(t) of masking schedules, per-step transfer quotas of the
/// samplers, and attention-mask policies as heatmaps. Each returns a <see cref="Figure"/> (HTML, PNG, SVG).
/// </summary>
public static class ScheduleCharts
{
    /// <summary>α(t) and the ELBO weight w(t) (log scale) of the named schedules (all of <see cref="MaskSchedules.Names"/> when none).</summary>
    public static Figure Schedules(params string[] names) =>
        Schedules((names.Length == 0 ? MaskSchedules.Names : names).Select(MaskSchedules.Create));

    /// <summary>α(t) and w(t) of the given schedules.</summary>
    public static Figure Schedules(IEnumerable<IMaskSchedule> schedules) => Build(schedules.ToArray());

    static Figure Build(IMaskSchedule[] schedules)
    {
        const int n = 200;
        double[] ta = Enumerable.Range(0, n + 1).Select(i => i / (double)n).ToArray();
        double[] tw = Enumerable.Range(1, n).Select(i => i / (double)n).ToArray(); // w(t) diverges at t = 0
        var alpha = schedules.Select(s => ta.Select(s.Alpha).ToArray()).ToArray();
        var weight = schedules.Select(s => tw.Select(s.LossWeight).ToArray()).ToArray();
        string title = "Masking schedules: " + string.Join(", ", schedules.Select(s => s.Name));

        GenericChart Lines(double[] t, double[][] ys, bool legend) => PChart.Combine(schedules.Select((s, i) =>
            PChart.Line<double, double, string>(t, ys[i], Name: s.Name, ShowLegend: legend,
                LineColor: Plotly.NET.Color.fromString(Html.SeriesColor(i)))));
        var a = PExt.WithYAxisStyle<double, double, string>(PExt.WithXAxisStyle<double, double, string>(Lines(ta, alpha, true), TitleText: "t"), TitleText: "α(t)");
        var w = PExt.WithYAxisStyle<double, double, string>(PExt.WithXAxisStyle<double, double, string>(Lines(tw, weight, false), TitleText: "t"),
            TitleText: "w(t)", AxisType: StyleParam.AxisType.Log);
        var chart = PExt.WithSize(PChart.Grid([a, w], 1, 2, SubPlotTitles: new[] { "α(t): P(token still clean)", "w(t) = −α′(t) / (1 − α(t))" }),
            Width: 1000, Height: 420);

        return new Figure(title, chart, null, () =>
        {
            var pa = new Plot(); var pw = new Plot();
            for (int i = 0; i < schedules.Length; i++)
            {
                var c = ScottPlot.Color.FromHex(Html.SeriesColor(i));
                pa.Add.ScatterLine(ta, alpha[i], c).LegendText = schedules[i].Name;
                pw.Add.ScatterLine(tw, weight[i].Select(Math.Log10).ToArray(), c).LegendText = schedules[i].Name;
            }
            pa.Title("α(t)"); pa.XLabel("t"); pa.ShowLegend();
            pw.Title("log10 w(t)"); pw.XLabel("t");
            return [pa, pw];
        });
    }

    /// <summary>
    /// Tokens unmasked per step for <paramref name="maskedTokens"/> masked positions in <paramref name="steps"/> steps.
    /// Schemes: <c>llada</c>, <c>dream</c> and <c>alpha:&lt;schedule&gt;</c> (default: llada, dream, alpha:linear, alpha:cosine).
    /// </summary>
    public static Figure TransferQuotas(int maskedTokens, int steps, params string[] schemes)
    {
        if (schemes.Length == 0) schemes = ["llada", "dream", "alpha:linear", "alpha:cosine"];
        var quotas = schemes.Select(s => Quotas(s, maskedTokens, steps)).ToArray();
        var keys = Enumerable.Range(1, steps).Select(i => i.ToString()).ToArray();
        var chart = PExt.WithYAxisStyle<int, int, string>(PExt.WithXAxisStyle<int, int, string>(
            PChart.Combine(schemes.Select((s, i) => PChart.Column<int, string, string>(quotas[i], Keys: keys, Name: s,
                MarkerColor: Plotly.NET.Color.fromString(Html.SeriesColor(i))))), TitleText: "step"), TitleText: "tokens unmasked");
        chart = PExt.WithSize(chart, Width: 900, Height: 380);
        return new Figure($"Transfer quotas: {maskedTokens} tokens in {steps} steps", chart, null, () =>
        {
            var p = new Plot();
            double width = 0.8 / schemes.Length;
            for (int i = 0; i < schemes.Length; i++)
            {
                var c = ScottPlot.Color.FromHex(Html.SeriesColor(i));
                p.Add.Bars(quotas[i].Select((q, k) => new Bar
                {
                    Position = k + 1 + (i - (schemes.Length - 1) / 2.0) * width, Value = q, Size = width, FillColor = c,
                }).ToList());
                p.Legend.ManualItems.Add(new LegendItem { LabelText = schemes[i], FillColor = c });
            }
            p.Title($"tokens unmasked per step ({maskedTokens} in {steps})"); p.XLabel("step"); p.ShowLegend();
            return [p];
        });
    }

    static int[] Quotas(string scheme, int n, int steps) => scheme.ToLowerInvariant() switch
    {
        "llada" => LladaTransferSchedule.Quotas(n, steps),
        "dream" => DreamTransferSchedule.Quotas(n, steps),
        var s when s.StartsWith("alpha:", StringComparison.Ordinal) => AlphaTransferSchedule.Quotas(n, steps, MaskSchedules.Create(s[6..])),
        _ => throw new ArgumentException($"unknown transfer scheme '{scheme}' (llada, dream, alpha:<schedule>)"),
    };

    /// <summary>A readable name of an attention policy.</summary>
    public static string PolicyName(AttentionPolicy policy) => policy switch
    {
        CausalAttention => "causal",
        BidirectionalAttention => "bidirectional",
        BlockDiffusionAttention b => $"BD3LM 2L (block {b.BlockSize})",
        BlockCausalAttention b => $"block-causal (block {b.BlockSize})",
        _ => "explicit",
    };

    /// <summary>
    /// The allowed-attention matrix [query, key] of a policy over <paramref name="length"/> tokens (BD3LM: over
    /// concat(x_t, x_0), i.e. 2·length), as 0/1.
    /// </summary>
    public static double[,] MaskMatrix(AttentionPolicy policy, int length)
    {
        int l = policy is BlockDiffusionAttention ? 2 * length : length;
        using var scope = NewDisposeScope();
        var allowed = policy.Allowed(l, l, 0, CPU);
        var m = new double[l, l];
        var flat = allowed?.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        for (int q = 0; q < l; q++)
            for (int k = 0; k < l; k++) m[q, k] = flat is null ? 1.0 : flat[q * l + k];
        return m;
    }

    /// <summary>One attention policy as a heatmap (allowed = yellow, blocked = dark).</summary>
    public static Figure AttentionMask(AttentionPolicy policy, int length = 16) => AttentionMasks(length, [policy]);

    /// <summary>Causal, bidirectional, BD3LM (2L) and block-causal masks side by side.</summary>
    public static Figure AttentionMasks(int length = 16, int blockSize = 4) => AttentionMasks(length,
        [AttentionPolicy.Causal, AttentionPolicy.Bidirectional, AttentionPolicy.BlockDiffusion(blockSize), AttentionPolicy.BlockCausal(blockSize)]);

    /// <summary>The given policies side by side.</summary>
    public static Figure AttentionMasks(int length, IReadOnlyList<AttentionPolicy> policies)
    {
        var masks = policies.Select(p => (Name: PolicyName(p), M: MaskMatrix(p, length))).ToList();
        return new Figure("Attention masks: " + string.Join(", ", masks.Select(m => m.Name)), null,
            () => "<div style=\"display:flex;flex-wrap:wrap;gap:1.5em;font:12px system-ui,sans-serif\">" +
                  string.Concat(masks.Select(m => MaskHtml(m.Name, m.M))) + "</div>",
            () => masks.Select(m =>
            {
                var p = new Plot();
                var h = p.Add.Heatmap(m.M);
                h.Colormap = new ScottPlot.Colormaps.Viridis();
                h.ManualRange = new ScottPlot.Range(0, 1); // all-allowed (bidirectional) must still read as allowed
                // ScottPlot draws data row 0 at the top of the extent; inverting Y puts the labels in the same order.
                p.Axes.InvertY(); // query 0 at the top, as in the HTML table
                p.Title(m.Name); p.XLabel("key"); p.YLabel("query");
                return p;
            }).ToList());
    }

    static string MaskHtml(string name, double[,] m)
    {
        int n = m.GetLength(0);
        int cell = n <= 32 ? 10 : n <= 64 ? 6 : 3;
        var sb = new StringBuilder("<div><div style=\"font-weight:600;margin-bottom:.3em\">").Append(Html.Escape(name))
            .Append("</div><table style=\"border-collapse:collapse\" title=\"rows: query, columns: key\">");
        for (int q = 0; q < n; q++)
        {
            sb.Append("<tr>");
            for (int k = 0; k < n; k++)
                sb.Append("<td style=\"width:").Append(cell).Append("px;height:").Append(cell).Append("px;padding:0;background:")
                  .Append(m[q, k] > 0 ? "#fde725" : "#440154").Append("\" title=\"q ").Append(q).Append(" → k ").Append(k)
                  .Append(m[q, k] > 0 ? ": allowed" : ": blocked").Append("\"></td>");
            sb.Append("</tr>");
        }
        return sb.Append("</table><div style=\"color:#777\">query ↓ key →").Append(n > 0 && name.StartsWith("BD3LM") ? " · [x_t | x_0]" : "").Append("</div></div>").ToString();
    }
}
