using System.CommandLine;
using System.Text.Json;
using OpenDllm.Experiments;
using OpenDllm.Interactive;
using OpenDllm.IO;
using OpenDllm.Runtime;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm compare RUN... [--baseline NAME] [--threshold BITS] [--infill N] --output DIR`: validation curves of finished
/// runs on one chart, the steps each needs to reach one bound and its speed-up over the baseline, and held-out infill
/// (exact match, token accuracy) of their last checkpoints (<see cref="RunComparison"/>). Writes <c>comparison.json</c>,
/// <c>comparison.md</c> (the table), <c>comparison.html</c> (offline page) and <c>curves.svg</c>. A run is
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
        var output = new Option<string>("--output") { Description = "Folder for comparison.json/.md/.html and curves.svg.", Required = true };
        var device = new ModelOptions().Device;
        var command = new Command("compare", "Compare finished training runs: curves on one chart, steps to a threshold, speed-up, held-out infill.")
            { runs, baseline, threshold, infill, sampler, output, device };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var named = p.GetValue(runs)!.Select(Parse).ToList();
            var outDir = p.GetValue(output)!;
            OutputGuard.EnsureSafe(outDir, "--output", force: false, [.. named.Select(r => r.Directory)]);
            OpenDllm.Sampling.SamplerFactory.Create(p.GetValue(sampler)!);                   // an unknown name fails before any work
            TorchRuntime.EnsureLoaded();
            var comparison = RunComparison.Compare(named,
                new ComparisonOptions(p.GetValue(baseline), p.GetValue(threshold), p.GetValue(infill), p.GetValue(sampler)!),
                TorchRuntime.ParseDevice(p.GetValue(device)), log: Console.Error.WriteLine);
            Directory.CreateDirectory(outDir);
            AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.json"), comparison.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var table = comparison.ToMarkdown();
            AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.md"), table + "\n");
            var curves = TrainingCurves.Load(named.Select(r => (r.Name, r.Directory)).ToArray());
            curves.SaveSvg(Path.Combine(outDir, "curves.svg"), 1000, 420);
            HtmlReport.Create("Run comparison")
                .AddParagraph($"Steps to reach {comparison.Metric} ≤ {comparison.Threshold:F3} bits/token, speed-up relative to {comparison.Baseline}; "
                    + $"held-out infill on {comparison.InfillTasks} lines ({comparison.Sampler}, oracle length).")
                .AddPreformatted(table)
                .Add(curves)
                .Save(Path.Combine(outDir, "comparison.html"));
            Console.WriteLine(table);
            Console.WriteLine($"written: {Path.Combine(outDir, "comparison.json")}, comparison.md, comparison.html, curves.svg");
            return 0;
        }));
        return command;
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
