using System.Text.Json.Nodes;
using OpenDllm.Training;
using Plotly.NET;
using ScottPlot;
using PChart = Plotly.NET.CSharp.Chart;

namespace OpenDllm.Interactive;

/// <summary>One training step record of <c>metrics.jsonl</c>.</summary>
public sealed record TrainPoint(long Step, double Loss, double LearningRate, double GradNorm, double TokensPerSecond);

/// <summary>One evaluation record: validation bits per token (an upper bound, NELBO, for diffusion; NLL for AR; the reconstruction CE for LDLM).</summary>
public sealed record EvalPoint(long Step, double Bits, string Kind);

/// <summary>One metric of a run over steps, in file order (e.g. <c>l_h</c> at each logged step, <c>val_l_h</c> at each evaluation).</summary>
public sealed record MetricSeries(string Name, IReadOnlyList<long> Steps, IReadOnlyList<double> Values);

/// <summary>The metrics of one run, read from its <c>metrics.jsonl</c>.</summary>
public sealed record TrainingRun(string Name, IReadOnlyList<TrainPoint> Train, IReadOnlyList<EvalPoint> Eval)
{
    /// <summary>The keys every training-step record has (charted by <see cref="TrainingCurves"/> or bookkeeping).</summary>
    public static readonly IReadOnlyList<string> StandardStepKeys = ["loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"];

    /// <summary>The validation bounds <see cref="Eval"/> holds.</summary>
    public static readonly IReadOnlyList<string> StandardValidationKeys = ["val_nelbo_bits", "val_nll_bits", "val_recon_bits"];

    /// <summary>
    /// Every numeric metric of the file by its key (all but <c>step</c> and <c>eval_tokens</c>), standard ones included:
    /// <c>loss</c>, a method's step metrics (<c>l_h</c>, <c>mdm_loss</c>, …), validation metrics (<c>val_l_h</c>, …).
    /// Empty for a run built by hand.
    /// </summary>
    public IReadOnlyDictionary<string, MetricSeries> Metrics { get; init; } = new Dictionary<string, MetricSeries>();

    /// <summary>The method's own step metrics (keys of training-step records beyond <see cref="StandardStepKeys"/>), in first-seen order.</summary>
    public IReadOnlyList<string> StepMetricNames { get; init; } = [];

    /// <summary>The <c>val_*</c> metrics other than the standard bounds (a method's extras, or its own bound), in first-seen order.</summary>
    public IReadOnlyList<string> ValidationMetricNames { get; init; } = [];

    /// <summary>
    /// Reads a run from a <c>metrics.jsonl</c> file or a run folder that holds one. The name defaults to the folder name.
    /// Lines with <c>loss</c> are training steps; lines with <c>val_nelbo_bits</c>, <c>val_nll_bits</c> or (LDLM)
    /// <c>val_recon_bits</c> are evaluations.
    /// Every other numeric key is kept in <see cref="Metrics"/> (a JSON null, a value that was not finite, is skipped).
    /// </summary>
    public static TrainingRun Load(string path, string? name = null)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, MetricsLog.FileName) : path;
        var dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var train = new List<TrainPoint>();
        var eval = new List<EvalPoint>();
        var series = new Dictionary<string, (List<long> Steps, List<double> Values)>(StringComparer.Ordinal);
        var stepNames = new List<string>();
        var valNames = new List<string>();
        foreach (var r in MetricsLog.Read(file))
        {
            long step = Get(r, "step") is double s ? (long)s : 0;
            if (Get(r, "loss") is double loss)
                train.Add(new(step, loss, Get(r, "lr") ?? double.NaN, Get(r, "grad_norm") ?? double.NaN, Get(r, "tokens_per_s") ?? double.NaN));
            if (Get(r, "val_nelbo_bits") is double nelbo) eval.Add(new(step, nelbo, "NELBO"));
            else if (Get(r, "val_nll_bits") is double nll) eval.Add(new(step, nll, "NLL"));
            else if (Get(r, "val_recon_bits") is double recon) eval.Add(new(step, recon, "reconstruction"));   // LDLM: not a bound
            bool stepRecord = r.ContainsKey("loss");
            foreach (var (key, _) in r)
            {
                if (key is "step" or "eval_tokens" || Get(r, key) is not double value) continue;
                if (!series.TryGetValue(key, out var points))
                {
                    series[key] = points = ([], []);
                    if (key.StartsWith("val_", StringComparison.Ordinal))
                    {
                        if (!StandardValidationKeys.Contains(key)) valNames.Add(key);
                    }
                    else if (stepRecord && !StandardStepKeys.Contains(key)) stepNames.Add(key);
                }
                points.Steps.Add(step);
                points.Values.Add(value);
            }
        }
        return new(name ?? Path.GetFileName(dir), train, eval)
        {
            Metrics = series.ToDictionary(p => p.Key, p => new MetricSeries(p.Key, p.Value.Steps, p.Value.Values), StringComparer.Ordinal),
            StepMetricNames = stepNames,
            ValidationMetricNames = valNames,
        };
    }

    static double? Get(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue j && j.TryGetValue<double>(out var d) ? d : null;
}

/// <summary>
/// Training curves of one or several runs on shared charts: loss, validation bits/token (NELBO or NLL) and learning rate
/// against step, each run in its own colour. Interactive HTML via Plotly.NET, PNG via ScottPlot (loss + validation).
/// </summary>
public sealed partial class TrainingCurves : Figure
{
    TrainingCurves(IReadOnlyList<TrainingRun> runs, string title)
        : base(title, BuildChart(runs), null, () => BuildPanels(runs)) => Runs = runs;

    /// <summary>The runs shown.</summary>
    public IReadOnlyList<TrainingRun> Runs { get; }

    /// <summary>Curves of the given runs.</summary>
    public static TrainingCurves FromRuns(IEnumerable<TrainingRun> runs, string title = "Training curves")
    {
        var list = runs.ToList();
        if (list.Count == 0) throw new ArgumentException("no runs to chart", nameof(runs));
        return new(list, title);
    }

    /// <summary>Curves of the given runs.</summary>
    public static TrainingCurves FromRuns(params TrainingRun[] runs) => FromRuns(runs, "Training curves");

    /// <summary>Curves from <c>metrics.jsonl</c> files or run folders, each named by its folder.</summary>
    public static TrainingCurves Load(params string[] paths) => FromRuns(paths.Select(p => TrainingRun.Load(p)));

    /// <summary>Curves from named <c>metrics.jsonl</c> files or run folders.</summary>
    public static TrainingCurves Load(params (string Name, string Path)[] runs) => FromRuns(runs.Select(r => TrainingRun.Load(r.Path, r.Name)));

    static string ValTitle(IEnumerable<TrainingRun> runs)
    {
        var kinds = runs.SelectMany(r => r.Eval).Select(e => e.Kind).Distinct().ToList();
        return kinds.Count == 1 ? $"validation {kinds[0]} (bits/token)" : "validation bits/token (NELBO or NLL)";
    }

    static GenericChart BuildChart(IReadOnlyList<TrainingRun> runs)
    {
        GenericChart Panel(Func<TrainingRun, (long[] X, double[] Y)> select, string y, bool legend, string suffix = "")
        {
            var lines = runs.Select((r, i) =>
            {
                var (xs, ys) = select(r);
                return PChart.Line<long, double, string>(xs, ys, ShowMarkers: xs.Length < 30, Name: r.Name + suffix, ShowLegend: legend,
                    LineColor: Plotly.NET.Color.fromString(Html.SeriesColor(i)), MarkerColor: Plotly.NET.Color.fromString(Html.SeriesColor(i)));
            });
            return Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<double, double, string>(
                Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<long, long, string>(PChart.Combine(lines), TitleText: "step"),
                TitleText: y);
        }
        var loss = Panel(r => (r.Train.Select(p => p.Step).ToArray(), r.Train.Select(p => p.Loss).ToArray()), "training loss", true);
        var val = Panel(r => (r.Eval.Select(p => p.Step).ToArray(), r.Eval.Select(p => p.Bits).ToArray()), ValTitle(runs), false, " (val)");
        var lr = Panel(r => (r.Train.Select(p => p.Step).ToArray(), r.Train.Select(p => p.LearningRate).ToArray()), "learning rate", false, " (lr)");
        var grid = PChart.Grid([loss, val, lr], 1, 3, SubPlotTitles: new[] { "loss", "validation bits/token", "learning rate" });
        return Plotly.NET.CSharp.GenericChartExtensions.WithSize(grid, Width: 1150, Height: 420);
    }

    static IReadOnlyList<Plot> BuildPanels(IReadOnlyList<TrainingRun> runs)
    {
        var loss = new Plot();
        var val = new Plot();
        for (int i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            var c = ScottPlot.Color.FromHex(Html.SeriesColor(i));
            if (r.Train.Count > 0)
            {
                var s = loss.Add.ScatterLine(r.Train.Select(p => (double)p.Step).ToArray(), r.Train.Select(p => p.Loss).ToArray(), c);
                s.LegendText = r.Name;
            }
            if (r.Eval.Count > 0)
            {
                var s = val.Add.Scatter(r.Eval.Select(p => (double)p.Step).ToArray(), r.Eval.Select(p => p.Bits).ToArray(), c);
                s.LegendText = r.Name;
            }
        }
        loss.Title("training loss"); loss.XLabel("step"); loss.ShowLegend();
        val.Title(ValTitle(runs)); val.XLabel("step"); val.ShowLegend(Alignment.UpperRight);     // falling curves leave that corner empty
        return [loss, val];
    }
}
