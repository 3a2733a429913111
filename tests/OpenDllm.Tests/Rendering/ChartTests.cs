using OpenDllm.Attention;
using OpenDllm.Interactive;

namespace OpenDllm.Tests.Rendering;

public class ChartTests
{
    static void AssertPng(string path)
    {
        Assert.True(File.Exists(path));
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(RenderingFixtures.PngSignature, bytes[..8]);
    }

    [Fact]
    public void TrainingCurvesCompareRunsOfflineAndSavePng()
    {
        var dir = RenderingFixtures.TempDir();
        var a = RenderingFixtures.WriteMetrics(dir, "mdlm-linear", 1.0, "val_nelbo_bits");
        var b = RenderingFixtures.WriteMetrics(dir, "ar-baseline", 0.8, "val_nll_bits");
        var curves = TrainingCurves.Load(a, Path.Combine(b, "metrics.jsonl"));
        Assert.Equal(["mdlm-linear", "ar-baseline"], curves.Runs.Select(r => r.Name));
        Assert.Equal(20, curves.Runs[0].Train.Count);
        Assert.Equal(4, curves.Runs[0].Eval.Count);
        Assert.Equal("NLL", curves.Runs[1].Eval[0].Kind);

        var fragment = curves.ToHtmlFragment();
        Assert.Contains("mdlm-linear", fragment);
        Assert.Contains("ar-baseline", fragment);
        Assert.Contains("window.Plotly", fragment);
        Assert.True(fragment.Length < 200_000, "the fragment does not carry plotly.js");

        var page = curves.ToPage();
        Assert.Contains("mdlm-linear", page);
        Assert.Contains("ar-baseline", page);
        Assert.DoesNotContain("cdn.plot.ly/plotly", page); // plotly.js itself still names cdn.plot.ly as the topojson default (geo maps only)
        Assert.DoesNotMatch("<script[^>]*src=\"https?://", page);
        Assert.True(page.Length > 1_000_000, "plotly.js is inlined");
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(page, "plotly\\.js v2\\.28"));

        var png = Path.Combine(dir, "curves.png");
        curves.SavePng(png);
        AssertPng(png);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ScheduleTransferAndAttentionFiguresRender()
    {
        var dir = RenderingFixtures.TempDir();
        var schedules = ScheduleCharts.Schedules("linear", "cosine");
        Assert.Contains("cosine", schedules.ToHtmlFragment());
        schedules.SavePng(Path.Combine(dir, "schedules.png"));
        AssertPng(Path.Combine(dir, "schedules.png"));

        var quotas = ScheduleCharts.TransferQuotas(32, 8);
        Assert.Contains("alpha:cosine", quotas.ToHtmlFragment());
        quotas.SavePng(Path.Combine(dir, "quotas.png"));
        AssertPng(Path.Combine(dir, "quotas.png"));

        var masks = ScheduleCharts.AttentionMasks(8, 2);
        var html = masks.ToHtmlFragment();
        foreach (var name in new[] { "causal", "bidirectional", "BD3LM 2L (block 2)", "block-causal (block 2)" }) Assert.Contains(name, html);
        Assert.DoesNotContain("<script", html);
        masks.SavePng(Path.Combine(dir, "masks.png"));
        AssertPng(Path.Combine(dir, "masks.png"));
        masks.SaveSvg(Path.Combine(dir, "masks.svg"));
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(dir, "masks.svg")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MaskMatricesMatchThePolicies()
    {
        var causal = ScheduleCharts.MaskMatrix(AttentionPolicy.Causal, 4);
        Assert.Equal(1.0, causal[3, 0]);
        Assert.Equal(0.0, causal[0, 3]);
        var bd = ScheduleCharts.MaskMatrix(AttentionPolicy.BlockDiffusion(2), 4);
        Assert.Equal(8, bd.GetLength(0));
        for (int q = 0; q < 8; q++)
            for (int k = 0; k < 8; k++)
                Assert.Equal(BlockDiffusionAttention.Allows(q, k, 2, 4) ? 1.0 : 0.0, bd[q, k]);
        var bidi = ScheduleCharts.MaskMatrix(AttentionPolicy.Bidirectional, 3);
        Assert.All(bidi.Cast<double>(), v => Assert.Equal(1.0, v));
    }
}
