using System.CommandLine;
using System.Text.Json;
using OpenDllm.Experiments;
using OpenDllm.Interactive;
using OpenDllm.IO;
using OpenDllm.Runtime;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm compare RUN... [--baseline NAME] [--threshold BITS] [--infill N] [--fixed-lengths LIST] --output DIR`: validation
/// curves of finished runs on one chart, the steps each needs to reach one bound and its speed-up over the baseline, and
/// held-out infill (exact match, token accuracy, generated tokens/s) of their last checkpoints (<see cref="RunComparison"/>):
/// diffusion runs with <c>--sampler</c>, AR+FIM runs (<c>ar_fim</c>) with the AR sampler and its KV cache; at oracle length,
/// and with <c>--fixed-lengths</c> also at unknown length. Writes <c>comparison.json</c>, <c>comparison.md</c> (the tables),
/// <c>comparison.html</c> (offline page), <c>curves.svg</c> and, with infill, <c>infill.svg</c>. A run is
/// <c>NAME=DIR</c> or a <c>DIR</c> (named after its folder).
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run folders (train.output_dir), each DIR or NAME=DIR; the first is the baseline unless --baseline names another.", Arity = ArgumentArity.OneOrMore };
        var baseline = new Option<string?>("--baseline") { Description = "Name of the run the speed-ups are relative to (default: the first)." };
        var threshold = new Option<double?>("--threshold") { Description = "Validation bound in bits/token the steps are counted to (default: the baseline's final value)." };
        var infill = new Option<int>("--infill") { Description = "Held-out single-line infill tasks per run (same tasks for all; 0 skips).", DefaultValueFactory = _ => 64 };
        var sampler = new Option<string>("--sampler") { Description = "Sampler for the infill tasks (oracle length, one step per mask).", DefaultValueFactory = _ => "maskgit_plus" };
        var fixedLengths = new Option<string?>("--fixed-lengths") { Description = "Also fill at unknown length: AR+FIM runs until EOS, diffusion runs at each of these lengths, averaged (Open-dCoder's average-fixed-length protocol), e.g. 16,32,64." };
        var maxMiddle = new Option<int>("--max-middle-tokens") { Description = "AR+FIM's token budget at unknown length.", DefaultValueFactory = _ => 128 };
        var output = new Option<string>("--output") { Description = "Folder for comparison.json/.md/.html and curves.svg.", Required = true };
        var device = new ModelOptions().Device;
        var command = new Command("compare", "Compare finished training runs: curves on one chart, steps to a threshold, speed-up, held-out infill.")
            { runs, baseline, threshold, infill, sampler, fixedLengths, maxMiddle, output, device };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var named = p.GetValue(runs)!.Select(Parse).ToList();
            var outDir = p.GetValue(output)!;
            OutputGuard.EnsureSafe(outDir, "--output", force: false, [.. named.Select(r => r.Directory)]);
            OpenDllm.Sampling.SamplerFactory.Create(p.GetValue(sampler)!);                   // an unknown name fails before any work
            var lengths = ParseLengths(p.GetValue(fixedLengths));
            TorchRuntime.EnsureLoaded();
            var comparison = RunComparison.Compare(named,
                new ComparisonOptions(p.GetValue(baseline), p.GetValue(threshold), p.GetValue(infill), p.GetValue(sampler)!, lengths, p.GetValue(maxMiddle)),
                TorchRuntime.ParseDevice(p.GetValue(device)), log: Console.Error.WriteLine);
            Directory.CreateDirectory(outDir);
            AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.json"), comparison.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var infillTable = comparison.ToInfillMarkdown();
            var table = comparison.ToMarkdown() + (infillTable.Length > 0 ? "\n\n" + infillTable : "");
            AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.md"), table + "\n");
            var curves = TrainingCurves.Load(named.Select(r => (r.Name, r.Directory)).ToArray());
            curves.SaveSvg(Path.Combine(outDir, "curves.svg"), 1000, 420);
            var report = HtmlReport.Create("Run comparison")
                .AddParagraph($"Steps to reach {comparison.Metric} ≤ {comparison.Threshold:F3} bits/token, speed-up relative to {comparison.Baseline}; "
                    + $"held-out infill on {comparison.InfillTasks} lines (diffusion: {comparison.Sampler}; AR+FIM: ar with KV cache; "
                    + (lengths is null ? "oracle length)." : $"oracle length and unknown length: fixed {string.Join(",", lengths)} averaged / until EOS)."))
                .AddPreformatted(table)
                .Add(curves);
            if (infillTable.Length > 0)
            {
                var chart = InfillCharts.Comparison(comparison);
                chart.SaveSvg(Path.Combine(outDir, "infill.svg"), 1200, 420);
                report.Add(chart);
            }
            report.Save(Path.Combine(outDir, "comparison.html"));
            Console.WriteLine(table);
            Console.WriteLine($"written: {Path.Combine(outDir, "comparison.json")}, comparison.md, comparison.html, curves.svg");
            return 0;
        }));
        return command;
    }

    /// <summary>"16,32,64" → [16, 32, 64]; null stays null (oracle length only).</summary>
    static int[]? ParseLengths(string? list)
    {
        if (list is null) return null;
        var parts = list.Split(',', StringSplitOptions.TrimEntries);
        var lengths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out lengths[i]) || lengths[i] < 1)
                throw new ArgumentException($"--fixed-lengths {list}: '{parts[i]}' is not a length ≥ 1 (give a comma list such as 16,32,64)");
        return lengths;
    }

    static (string Name, string Directory) Parse(string spec)
    {
        int eq = spec.IndexOf('=');
        var dir = eq > 0 ? spec[(eq + 1)..] : spec;
        var name = eq > 0 ? spec[..eq] : Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: run folder not found ({spec})");
        return (name, dir);
    }
}
