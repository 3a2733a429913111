using System.CommandLine;
using OpenDllm.Interactive;
using OpenDllm.IO;
using OpenDllm.Training;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm report RUN_DIR [--output FILE] [--force]`: one offline HTML page with every curve of a run's
/// <c>metrics.jsonl</c>: the standard curves (loss, validation bound, learning rate), then one chart per group of the other
/// metrics: the method's step metrics (e.g. LDLM's <c>l_h</c>, <c>l_w</c>, <c>l_diff</c>), its validation metrics
/// (<c>val_*</c>), and gradient norm and throughput. The default output is <c>RUN_DIR/report.html</c>; the metrics file and
/// the run's checkpoint folders are inputs and are never overwritten without <c>--force</c>.
/// </summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var run = new Argument<string>("run") { Description = "Run folder (train.output_dir) or its metrics.jsonl." };
        var output = new Option<string?>("--output") { Description = "HTML file to write (default: RUN_DIR/report.html)." };
        var force = new Option<bool>("--force") { Description = "Write even when --output is an input of the command (the metrics file or a file of a checkpoint)." };
        var command = new Command("report", "Write an offline HTML page with every training curve of a run (loss, bound, method and validation metrics).")
            { run, output, force };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var path = p.GetValue(run)!;
            var metrics = Directory.Exists(path) ? Path.Combine(path, MetricsLog.FileName) : path;
            if (!File.Exists(metrics))
                throw new FileNotFoundException($"{path}: no {MetricsLog.FileName} (give a run folder, train.output_dir, or its metrics file)");
            var folder = Path.GetDirectoryName(Path.GetFullPath(metrics))!;
            var target = p.GetValue(output) ?? Path.Combine(folder, "report.html");
            OutputGuard.EnsureSafe(target, "--output", p.GetValue(force), [metrics, .. Directory.EnumerateDirectories(folder)]);
            var loaded = TrainingRun.Load(metrics);
            var page = Build(loaded, metrics);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
            Console.WriteLine($"report: {page.Save(target)}");
            return 0;
        }));
        return command;
    }

    /// <summary>The page of one run: a summary line, the standard curves, and a chart per group of further metrics.</summary>
    public static HtmlReport Build(TrainingRun run, string source)
    {
        if (run.Metrics.Count == 0) throw new InvalidDataException($"{source}: no metrics to chart (no numeric records)");
        var report = HtmlReport.Create($"Training report: {run.Name}");
        var last = run.Train.Count > 0 ? run.Train[^1] : null;
        report.AddParagraph($"{source}: {run.Train.Count} logged steps"
            + (last is null ? "" : $", last step {last.Step} (loss {last.Loss:G5})")
            + (run.Eval.Count > 0 ? $", {run.Eval[^1].Kind} {run.Eval[^1].Bits:F4} bits/token at step {run.Eval[^1].Step}" : "") + ".");
        if (run.Train.Count > 0 || run.Eval.Count > 0)
            report.Add(TrainingCurves.FromRuns(run), "Training curves (loss, validation bound, learning rate)");
        if (run.StepMetricNames.Count > 0)
            report.Add(TrainingCurves.Metrics([run], run.StepMetricNames), "Method step metrics");
        if (run.ValidationMetricNames.Count > 0)
            report.Add(TrainingCurves.Metrics([run], run.ValidationMetricNames), "Validation metrics");
        var optimisation = new[] { "grad_norm", "tokens_per_s" }.Where(run.Metrics.ContainsKey).ToList();
        if (optimisation.Count > 0)
            report.Add(TrainingCurves.Metrics([run], optimisation), "Gradient norm and throughput");
        return report;
    }
}
