using System.Xml.Linq;
using Microsoft.DotNet.Interactive.Formatting;
using OpenDllm.Interactive;
using OpenDllm.Schedules;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Rendering;

public class NotebookIntegrationTests
{
    [Fact]
    public void FormattersReturnOurHtml()
    {
        NotebookFormatters.Register();
        NotebookFormatters.Register(); // registering again changes nothing
        using var t = ones(2, 2);
        var html = t.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("class=\"odl-tensor\"", html);
        var traj = TrajectoryHtml.View(RenderingFixtures.Trajectory(), ByteTokenizer.Instance);
        Assert.Contains("class=\"odl-traj\"", traj.ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("class=\"odl-traj\"", RenderingFixtures.Trajectory().ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("linear", MaskSchedules.Create("linear").ToDisplayString(HtmlFormatter.MimeType));
    }

    [Fact]
    public void RendererDispatchCoversOurTypesAndRejectsOthers()
    {
        Assert.Null(Renderers.ToHtml(null));
        Assert.Null(Renderers.ToHtml("text"));
        Assert.Null(Renderers.ToHtml(42));
        Assert.NotNull(Renderers.ToHtml(RenderingFixtures.Trajectory()));
        Assert.NotNull(Renderers.ToHtml(OpenDllm.Attention.AttentionPolicy.Causal));
        Assert.NotNull(Renderers.ToHtml(HtmlReport.Create("r").AddParagraph("p")));
    }

    [Fact]
    public void PlotlyJsIsInlinedOncePerSession()
    {
        var mode = Renderers.PlotlyScript;
        try
        {
            Renderers.PlotlyScript = PlotlyScriptMode.OncePerSession;
            Renderers.ResetSession();
            var fig = ScheduleCharts.Schedules("linear");
            var first = Renderers.ToHtml(fig)!;
            var second = Renderers.ToHtml(fig)!;
            Assert.True(first.Length > 1_000_000);
            Assert.True(second.Length < 200_000);
        }
        finally { Renderers.PlotlyScript = mode; }
    }

    [Fact]
    public void ReportIsOneOfflinePageWrittenAtomically()
    {
        var dir = RenderingFixtures.TempDir();
        var run = RenderingFixtures.WriteMetrics(dir, "quick", 1.0, "val_nelbo_bits");
        var path = HtmlReport.Create("OpenDllm quickstart")
            .AddParagraph("a < b")
            .AddPreformatted("x & y")
            .Add(TrainingCurves.Load(run))
            .Add(RenderingFixtures.Trajectory(), ByteTokenizer.Instance, "infill")
            .Save(Path.Combine(dir, "report.html"));
        var page = File.ReadAllText(path);
        Assert.Contains("<title>OpenDllm quickstart</title>", page);
        Assert.Contains("a &lt; b", page);
        Assert.Contains("id=\"step\"", page);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(page, "plotly\\.js v2\\.28"));
        Assert.DoesNotMatch("<(script|link)[^>]*(src|href)=\"https?://", page);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TheKernelExtensionAssemblyIsPackedWhereTheKernelsLoaderLooks()
    {
        var project = Path.Combine(TestPaths.RepoRoot, "OpenDllm.Interactive", "OpenDllm.Interactive.csproj");
        var item = XDocument.Load(project).Descendants("None").Single(e => (string?)e.Attribute("Include") == "$(TargetPath)");
        Assert.Equal("true", (string?)item.Attribute("Pack"));
        Assert.Equal("interactive-extensions/dotnet", (string?)item.Attribute("PackagePath"));
        Assert.True(typeof(Microsoft.DotNet.Interactive.IKernelExtension).IsAssignableFrom(typeof(KernelExtension)));
        Assert.False(File.Exists(Path.Combine(TestPaths.RepoRoot, "OpenDllm.Interactive", "extension.dib")));   // the assembly is the extension
    }
}
