using Microsoft.DotNet.Interactive.Formatting;
using OpenDllm.Attention;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using Plotly.NET;
using TorchSharp;

namespace OpenDllm.Interactive;

/// <summary>
/// Registers OpenDllm's renderers as <c>text/html</c> formatters of .NET Interactive
/// (<c>Microsoft.DotNet.Interactive.Formatting</c>); called by the packaged <c>extension.dib</c> when a Polyglot notebook
/// runs <c>#r "nuget: OpenDllm.Interactive"</c>. Every formatter goes through <see cref="Renderers.ToHtml"/>.
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

    /// <summary>Registers the formatters (idempotent) and makes <c>text/html</c> the preferred MIME type for these types.</summary>
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
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType);
    }
}
