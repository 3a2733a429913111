using System.Globalization;
using OpenDllm.Cli;
using OpenDllm.Interactive;

namespace OpenDllm.Tests.Rendering;

/// <summary>Every metric of a run's metrics.jsonl is chartable: method step metrics and extra validation metrics too.</summary>
public sealed class MetricChartTests : IDisposable
{
    readonly string _dir = RenderingFixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>An LDLM-like run: step records with l_h, l_w, l_diff, gamma; evaluations with the bound and val_l_h.</summary>
    string WriteLdlmRun(string name = "ldlm")
    {
        var run = Path.Combine(_dir, name);
        Directory.CreateDirectory(run);
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var lines = new List<string>();
        for (int s = 1; s <= 10; s++)
        {
            lines.Add($$"""{"step":{{s}},"loss":{{F(4.0 / s)}},"lr":0.001,"grad_norm":1.5,"tokens":{{s * 64}},"tokens_per_s":100.0,"elapsed_s":{{s}},"l_h":{{F(2.0 / s)}},"l_w":{{F(1.0 / s)}},"l_diff":{{F(0.5 / s)}},"gamma":0.1}""");
            if (s % 5 == 0) lines.Add($$"""{"step":{{s}},"val_nelbo_bits":{{F(8.0 / s)}},"eval_tokens":512,"val_l_h":{{F(3.0 / s)}},"val_sample_score":null}""");
        }
        File.WriteAllLines(Path.Combine(run, "metrics.jsonl"), lines);
        return run;
    }

    [Fact]
    public void ARunCarriesItsExtraStepAndValidationMetrics()
    {
        var run = TrainingRun.Load(WriteLdlmRun());
        Assert.Equal(["l_h", "l_w", "l_diff", "gamma"], run.StepMetricNames);
        Assert.Equal(["val_l_h"], run.ValidationMetricNames);                           // the standard bound and a null value are not extras
        Assert.Equal(10, run.Metrics["l_diff"].Values.Count);
        Assert.Equal(0.05, run.Metrics["l_diff"].Values[^1], 12);
        Assert.Equal([5L, 10L], run.Metrics["val_l_h"].Steps);
        Assert.Equal(10, run.Metrics["loss"].Values.Count);                             // standard ones are there too
        Assert.Equal(2, run.Eval.Count);
    }

    [Fact]
    public void MetricsFigureChartsChosenMetricsAndRefusesUnknownOnes()
    {
        var run = TrainingRun.Load(WriteLdlmRun());
        var figure = TrainingCurves.Metrics(run, "l_h", "l_w", "l_diff", "val_l_h");
        var fragment = figure.ToHtmlFragment();
        foreach (var name in new[] { "l_h", "l_w", "l_diff", "val_l_h" }) Assert.Contains(name, fragment);
        var png = Path.Combine(_dir, "metrics.png");
        figure.SavePng(png);
        Assert.Equal(RenderingFixtures.PngSignature, File.ReadAllBytes(png)[..8]);
        var e = Assert.Throws<ArgumentException>(() => TrainingCurves.Metrics(run, "l_z"));
        Assert.Contains("l_z", e.Message);
        Assert.Contains("l_diff", e.Message);                                           // lists what there is
    }

    [Fact]
    public void ReportCommandWritesEveryMetricGroupAndRefusesToOverwriteAnInput()
    {
        var run = WriteLdlmRun();
        var output = Path.Combine(_dir, "page.html");
        Assert.Equal(0, CliApp.Run(["report", run, "--output", output]));
        var page = File.ReadAllText(output);
        foreach (var name in new[] { "l_h", "l_w", "l_diff", "gamma", "val_l_h", "grad_norm", "Method step metrics", "Validation metrics" })
            Assert.Contains(name, page);
        Assert.DoesNotMatch("<script[^>]*src=\"https?://", page);                    // offline

        Assert.Equal(0, CliApp.Run(["report", run]));                                   // default: RUN_DIR/report.html
        Assert.True(File.Exists(Path.Combine(run, "report.html")));

        var metrics = Path.Combine(run, "metrics.jsonl");
        var kept = File.ReadAllText(metrics);
        Assert.Equal(1, CliApp.Run(["report", run, "--output", metrics]));
        Assert.Equal(kept, File.ReadAllText(metrics));
        Directory.CreateDirectory(Path.Combine(run, "checkpoint-00000010"));
        var config = Path.Combine(run, "checkpoint-00000010", "config.json");
        File.WriteAllText(config, "{}");
        Assert.Equal(1, CliApp.Run(["report", run, "--output", config]));
        Assert.Equal("{}", File.ReadAllText(config));
        Assert.Equal(1, CliApp.Run(["report", Path.Combine(_dir, "missing")]));
    }
}
