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
    /// <summary>The types that get an HTML formatter.</summary>
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(torch.Tensor), typeof(Trajectory), typeof(TrajectoryView), typeof(TrainingRun), typeof(Figure),
        typeof(TrainingCurves), typeof(GenericChart), typeof(IMaskSchedule), typeof(AttentionPolicy), typeof(HtmlReport),
    ];

    /// <summary>
    /// Registers the formatters; these types are displayed as <c>text/html</c> with <c>text/plain</c> beside it. Calling it
    /// again registers them again, and the latest registration is the one the kernel uses: so when a process holds two
    /// copies of OpenDllm.Interactive (a package loaded in its own load context beside a referenced one), the copy that
    /// registered last renders, and its <see cref="Renderers"/> settings (<see cref="Renderers.Tokenizer"/>, …) are the ones
    /// that apply. A one-time guard here once left another copy's formatters in charge, so a notebook's
    /// <c>Renderers.Tokenizer = …</c> had no effect.
    /// </summary>
    public static void Register()
    {
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
