using OpenDllm.Attention;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using OpenDllm.Tokenization;
using Plotly.NET;
using TorchSharp;

namespace OpenDllm.Interactive;

/// <summary>How <see cref="Renderers.ToHtml"/> includes plotly.js in Plotly outputs.</summary>
public enum PlotlyScriptMode
{
    /// <summary>Inline plotly.js in the first Plotly output after <see cref="Renderers.ResetSession"/>, never again (outputs share one page).</summary>
    OncePerSession,
    /// <summary>Inline plotly.js in every Plotly output (outputs shown in separate frames).</summary>
    Always,
    /// <summary>Never inline it: the host page provides <see cref="PlotlyHtml.ScriptTag"/>.</summary>
    Never,
}

/// <summary>
/// The single entry point from OpenDllm objects to HTML, used by the .NET Interactive formatters
/// (<see cref="NotebookFormatters"/>) and the headless notebook runner (for <c>display(x)</c> and last-expression values).
/// </summary>
public static class Renderers
{
    static int _plotlyEmitted;

    /// <summary>Tokenizer used for tensors and trajectories displayed without one (null: token ids are shown).</summary>
    public static ITokenizer? Tokenizer { get; set; }

    /// <summary>How plotly.js is included in Plotly outputs (default: once per session).</summary>
    public static PlotlyScriptMode PlotlyScript { get; set; } = PlotlyScriptMode.OncePerSession;

    /// <summary>Starts a new output page (e.g. a new notebook run): the next Plotly output inlines plotly.js again.</summary>
    public static void ResetSession() => Interlocked.Exchange(ref _plotlyEmitted, 0);

    /// <summary>Whether a renderer exists for <paramref name="value"/>.</summary>
    public static bool CanRender(object? value) => value is torch.Tensor or Trajectory or TrajectoryView or TrainingRun or Figure
        or GenericChart or IMaskSchedule or AttentionPolicy or HtmlReport;

    /// <summary>
    /// The HTML fragment for <paramref name="value"/>: tensors, trajectories (<see cref="TrajectoryView"/> to give a
    /// tokenizer), training runs, figures (training curves, schedule charts), Plotly.NET charts, masking schedules, attention
    /// policies and reports. Returns null for any other type (the caller then falls back to text).
    /// </summary>
    public static string? ToHtml(object? value) => value switch
    {
        null => null,
        torch.Tensor t => TensorHtml.Render(t, Tokenizer),
        Trajectory t => TrajectoryHtml.Render(t, Tokenizer),
        TrajectoryView v => TrajectoryHtml.Render(v.Trajectory, v.Tokenizer ?? Tokenizer, v.Title),
        TrainingRun r => Plotly(TrainingCurves.FromRuns(r)),
        Figure f => Plotly(f),
        GenericChart c => PlotlyHtml.Fragment(c, IncludePlotlyJs()),
        IMaskSchedule s => Plotly(ScheduleCharts.Schedules(new[] { s })),
        AttentionPolicy p => ScheduleCharts.AttentionMask(p).ToHtmlFragment(),
        HtmlReport r => r.ToBodyHtml(IncludePlotlyJs()),
        _ => null,
    };

    static string Plotly(Figure f) => f.ToHtmlFragment(f.UsesPlotly && IncludePlotlyJs());

    static bool IncludePlotlyJs() => PlotlyScript switch
    {
        PlotlyScriptMode.Always => true,
        PlotlyScriptMode.Never => false,
        _ => Interlocked.Exchange(ref _plotlyEmitted, 1) == 0,
    };
}
