using Microsoft.DotNet.Interactive.Formatting;
using OpenDllm.Attention;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using Plotly.NET;
using TorchSharp;

namespace OpenDllm.Interactive;

/// <summary>
/// Registers OpenDllm's renderers as formatters of the .NET Interactive kernel
/// (<c>Microsoft.DotNet.Interactive.Formatting</c>): <c>text/html</c> through <see cref="Renderers.ToHtml"/> and
/// <c>text/plain</c> through <see cref="Notebooks.ValueRenderer.PlainText"/>, the same two MIME types
/// <c>opendllm notebook run</c> writes. <see cref="KernelExtension"/> calls it when a notebook runs
/// <c>#r "nuget: OpenDllm.Interactive"</c>.
/// </summary>
public static class NotebookFormatters
{
    static int _registered;

    /// <summary>The types that get an HTML formatter.</summary>
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(torch.Tensor), typeof(Trajectory), typeof(TrajectoryView), typeof(TrainingRun), typeof(Figure),
        typeof(TrainingCurves), typeof(GenericChart), typeof(IMaskSchedule), typeof(AttentionPolicy), typeof(HtmlReport),
    ];

    /// <summary>Registers the formatters (idempotent); these types are displayed as <c>text/html</c> with <c>text/plain</c> beside it.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Add<torch.Tensor>();
        Add<Trajectory>();
        Add<TrajectoryView>();
        Add<TrainingRun>();
        Add<Figure>();
        Add<TrainingCurves>();
        Add<GenericChart>();
        Add<IMaskSchedule>();
        Add<AttentionPolicy>();
        Add<HtmlReport>();
    }

    static void Add<T>()
    {
        Formatter.Register<T>((value, writer) => writer.Write(Renderers.ToHtml(value) ?? System.Net.WebUtility.HtmlEncode(value?.ToString() ?? "")), HtmlFormatter.MimeType);
        Formatter.Register<T>((value, writer) => writer.Write(Notebooks.ValueRenderer.PlainText(value)), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
    }
}
